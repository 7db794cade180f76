//go:build !unix

package main

import (
	"errors"
	"io"
)

func runChaos(args []string, stdout, stderr io.Writer) int {
	return fail(stderr, errors.New("marlon chaos needs a Unix system (it stops and kills processes with signals)"))
}
