package policygradient_test

import (
	"testing"

	_ "github.com/marlon-go/marlon/algorithms/policygradient" // registers "pg"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

// The generic pg every environment offers honours the algorithm contracts.
func TestConformance(t *testing.T) {
	alg, err := learning.Lookup("", "pg")
	if err != nil {
		t.Fatal(err)
	}
	algotest.Check(t, alg)
}
