package scheduling

import (
	"fmt"
	"testing"

	"github.com/marlon-go/marlon/env"
)

// BenchmarkEpisode measures one simulated episode of the default cluster
// and workload, and of the largest of the seed's campaign (500 jobs on 20
// nodes), by auction and by EASY: what a campaign's duration is made of.
func BenchmarkEpisode(b *testing.B) {
	for _, size := range []struct{ jobs, nodes int }{{200, 8}, {500, 20}} {
		sc := Default()
		sc.Jobs, sc.Nodes, sc.GPUNodes = size.jobs, size.nodes, size.nodes/4
		e, err := New(sc)
		if err != nil {
			b.Fatal(err)
		}
		for _, alg := range []struct {
			name   string
			agents env.Agents
		}{{"bidding", nil}, {"easy", policyAgents(CentralPolicy(EASY{}))}} {
			b.Run(fmt.Sprintf("%s/%djobs-%dnodes", alg.name, size.jobs, size.nodes), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := env.RunSim(e, uint64(i), alg.agents, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
