#!/usr/bin/env bash
# Executes every notebook headless, as CI does: each cell in turn, and a cell
# that fails (a compile error, a panic, a failed check) fails the run.
# The executed copies, with their outputs, go to OUTDIR; the notebooks in
# the repository are left as they are.
#
# Usage: notebooks/run.sh [OUTDIR] [NOTEBOOK...]   (default OUTDIR: a temporary directory)
# Needs notebooks/setup.sh first, and its BINDIR on the PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$(mktemp -d)}"
shift || true
mkdir -p "$out"
export PATH="$PATH:$(go env GOPATH)/bin"
notebooks=("$@")
if [ ${#notebooks[@]} -eq 0 ]; then notebooks=("$here"/*.ipynb); fi
status=0
for nb in "${notebooks[@]}"; do
  start=$(date +%s)
  echo "== $(basename "$nb")"
  # A compile error fails the cell in Jupyter; a program that panics or exits
  # non-zero does not (GoNB 0.10.6 only prints "exit status N" on its
  # stderr), so the executed copy is read for that line as well.
  if /usr/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 \
      --ExecutePreprocessor.kernel_name=gonb --output-dir "$out" "$nb" 2>"$out/$(basename "$nb" .ipynb).log" \
     && /usr/bin/python3 - "$out/$(basename "$nb")" <<'PY'
import json, re, sys
nb = json.load(open(sys.argv[1]))
bad = re.compile(r"^(exit status -?\d+|signal: .+)$", re.M)
n = 0
for cell in nb["cells"]:
    if cell["cell_type"] != "code":
        continue
    n += 1
    for out in cell.get("outputs", []):
        text = "".join(out.get("text", []))
        if out.get("name") == "stderr" and bad.search(text):
            print("   cell %d failed:\n%s" % (n, text[-3000:]))
            sys.exit(1)
PY
  then
    echo "   executed in $(( $(date +%s) - start ))s: $out/$(basename "$nb")"
  else
    tail -n 20 "$out/$(basename "$nb" .ipynb).log" | grep -v '^[IW][0-9]' || true
    echo "   FAILED after $(( $(date +%s) - start ))s: $nb"
    status=1
  fi
done
exit $status
