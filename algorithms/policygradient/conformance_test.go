package policygradient_test

import (
	"testing"

	_ "github.com/marlon-go/marlon/algorithms/policygradient" // registers "pg"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

// The generic pg and pg-beta every environment offers honour the
// algorithm contracts.
func TestConformance(t *testing.T) {
	for _, name := range []string{"pg", "pg-beta"} {
		t.Run(name, func(t *testing.T) {
			alg, err := learning.Lookup("", name)
			if err != nil {
				t.Fatal(err)
			}
			algotest.Check(t, alg)
		})
	}
}
