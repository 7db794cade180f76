//go:build tools

// Package tools pins the versions of the Go programs the notebooks need:
// the GoNB Jupyter kernel and goimports, which GoNB runs on every cell.
// notebooks/setup.sh builds them from this module (go install NAME@VERSION
// refuses GoNB, whose go.mod has replace directives).
package tools

import (
	_ "github.com/janpfeifer/gonb"
	_ "golang.org/x/tools/cmd/goimports"
)
