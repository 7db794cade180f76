package main

import (
	"github.com/marlon-go/marlon/algorithms/dls"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/learning"
)

// algorithmNames lists what --algorithm accepts.
func algorithmNames() []string {
	var names []string
	for _, t := range dls.Techniques() {
		names = append(names, string(t))
	}
	return names
}

// newPolicy makes the named algorithm's policy for e's workers.
func newPolicy(name string, e *loadbalancing.Environment) (learning.Policy, error) {
	spec := learning.Spec{Observation: e.Observation(), Actions: e.Actions()}
	return dls.New(dls.Technique(name), spec, dls.WithCV(e.Scenario().Variability))
}
