package qlearning_test

import (
	"testing"

	_ "github.com/marlon-go/marlon/algorithms/qlearning" // registers "qlearning"
	"github.com/marlon-go/marlon/learning"
	"github.com/marlon-go/marlon/learning/algotest"
)

// The generic qlearning every environment offers honours the algorithm contracts.
func TestConformance(t *testing.T) {
	alg, err := learning.Lookup("", "qlearning")
	if err != nil {
		t.Fatal(err)
	}
	algotest.Check(t, alg)
}
