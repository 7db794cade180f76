#!/usr/bin/env bash
# Installs what the notebooks need on a machine that has Go: Jupyter's
# nbconvert and client from Debian's packages (apt-get, as root or through
# sudo), and the GoNB kernel and goimports built from notebooks/tools (the
# versions its go.mod pins), then registers GoNB as a Jupyter kernel.
#
# Usage: notebooks/setup.sh [BINDIR]    (default BINDIR: $(go env GOPATH)/bin)
# BINDIR must be on the PATH of whoever runs Jupyter: GoNB runs goimports
# from there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bindir="${1:-$(go env GOPATH)/bin}"
mkdir -p "$bindir"

# Debian's jupyter, not another one earlier on the PATH (a pyenv shim, say).
jupyter=/usr/bin/jupyter
if ! [ -x "$jupyter" ] || ! "$jupyter" nbconvert --version >/dev/null 2>&1; then
  echo "== installing Jupyter (nbconvert, nbclient) from Debian's packages"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client >/dev/null
fi
"$jupyter" nbconvert --version

echo "== building GoNB and goimports (notebooks/tools/go.mod) into $bindir"
(cd "$here/tools" && go build -o "$bindir/gonb" github.com/janpfeifer/gonb \
  && go build -o "$bindir/goimports" golang.org/x/tools/cmd/goimports)

echo "== registering the GoNB kernel with Jupyter"
# gopls (completion in an editor) is optional: --force_deps installs without it.
PATH="$bindir:$PATH" "$bindir/gonb" --install --force_deps --logtostderr=false
"$jupyter" kernelspec list
