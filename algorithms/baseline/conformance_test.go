package baseline_test

import (
	"testing"

	_ "github.com/marlon-go/marlon/algorithms/baseline" // registers "random" and "fixed"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

// The baselines honour the algorithm contracts: random, and the instance
// of fixed that every action space has (its first action).
func TestConformance(t *testing.T) {
	for _, name := range []string{"random", "fixed:0"} {
		t.Run(name, func(t *testing.T) {
			alg, err := learning.Lookup("", name)
			if err != nil {
				t.Fatal(err)
			}
			algotest.Check(t, alg)
		})
	}
}
