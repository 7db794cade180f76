package scheduling

import (
	"bytes"
	_ "embed"

	"github.com/marlon-go/marlon/examples/scheduling/swf"
)

//go:embed traces/marlon-500.swf
var shippedTrace []byte

// ShippedTraceName is the file name of the trace shipped with the
// package, which "swf" arrivals replay when no trace is given.
const ShippedTraceName = "examples/scheduling/traces/marlon-500.swf"

// ShippedTrace is the trace shipped with the package: 500 jobs the
// project made with its own synthetic workload (its header says how), not
// a copy of an archive log.
func ShippedTrace() (*swf.Log, error) { return swf.Read(bytes.NewReader(shippedTrace)) }
