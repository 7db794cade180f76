package schedcampaign

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/marlon-go/marlon/algorithms/qlearning"
	"github.com/marlon-go/marlon/campaign"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/scheduling"
	"github.com/marlon-go/marlon/examples/scheduling/learners"
	"github.com/marlon-go/marlon/learning"
)

// TestBidDiagnosis is the experiment of docs/campaign.md ("Why the learned
// bids do not learn bidding-reserve"), not a check: it runs only with
// MARLON_BID_DIAGNOSIS=1 (about 3 minutes) and prints what it finds.
//
//	MARLON_BID_DIAGNOSIS=1 go test ./examples/scheduling/schedcampaign -run BidDiagnosis -v -timeout 30m
//
// Q-learning as the campaign trains it (learners.QConfig, 300 episodes on
// TrainingConfig), with every-visit or first-visit updates
// (qlearning.Config.FirstVisit), on its 32-state table or on a table of
// delays_head alone; the greedy action of each state against
// bidding-reserve's (decline iff delays_head), and the mean bounded
// slowdown of the greedy policy on five episodes (seeds 11 to 15) of four
// of the campaign's loads, beside EASY's, bidding-reserve's and bidding's.
func TestBidDiagnosis(t *testing.T) {
	if os.Getenv("MARLON_BID_DIAGNOSIS") != "1" {
		t.Skip("an experiment: set MARLON_BID_DIAGNOSIS=1 to run it")
	}
	type variant struct {
		name       string
		firstVisit bool
		delaysOnly bool
		seed       uint64
	}
	variants := []variant{
		{"every-visit, 32 states", false, false, 1},
		{"first-visit, 32 states", true, false, 1},
		{"every-visit, delays_head alone", false, true, 1},
	}
	for seed := uint64(1); seed <= 4; seed++ {
		variants = append(variants, variant{"first-visit, delays_head alone", true, true, seed})
	}
	loads := []string{"load-burst", "load-poisson", "burst-200", "burst-400"}
	seeds := []uint64{11, 12, 13, 14, 15}
	var line []string
	for _, l := range loads {
		c := diagConfig(t, l)
		line = append(line, fmt.Sprintf("%s easy %.2f reserve %.2f bidding %.2f", l,
			diagEval(t, learners.EASY, nil, c, seeds), diagEval(t, learners.Reserve, nil, c, seeds), diagEval(t, learners.Bidding, nil, c, seeds)))
	}
	fmt.Println("heuristics: " + strings.Join(line, "; "))
	// The effect of the whole switch from bidding to bidding-reserve on
	// the training configuration, against the spread between episodes.
	var bid, res, diff []float64
	for s := uint64(100); s < 120; s++ {
		x := diagEval(t, learners.Bidding, nil, TrainingConfig(), []uint64{s})
		y := diagEval(t, learners.Reserve, nil, TrainingConfig(), []uint64{s})
		bid, res, diff = append(bid, x), append(res, y), append(diff, y-x)
	}
	mb, sb := meanSD(bid)
	mr, sr := meanSD(res)
	md, sd := meanSD(diff)
	fmt.Printf("training configuration, seeds 100 to 119: bidding %.2f (sd %.2f), bidding-reserve %.2f (sd %.2f), paired difference %.2f (sd %.2f)\n", mb, sb, mr, sr, md, sd)
	train, err := scheduling.New(Scenario(TrainingConfig()))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range variants {
		name := fmt.Sprintf("qlearning-diagnosis-%d", i)
		learning.RegisterFor(scheduling.Family, learning.Algorithm{Name: name, Learns: true,
			New: func(spec learning.Spec) (learning.Policy, error) {
				cfg := learners.QConfig()
				cfg.FirstVisit = v.firstVisit
				if v.delaysOnly {
					cfg.Discretizer = qlearning.Discretizer{{Field: scheduling.FeatDelaysHead, Edges: []float64{0.5}}}
				}
				return qlearning.New(spec, cfg)
			}})
		tr := learners.DefaultTraining()
		t0 := time.Now()
		res, err := env.Run(train, name, env.RunOptions{Seed: v.seed, Episodes: tr.Episodes, EvalEvery: tr.EvalEvery, EvalEpisodes: tr.EvalEpisodes, Select: tr.Select})
		if err != nil {
			t.Fatal(err)
		}
		ckpt, err := res.Checkpoint(train)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		var m struct {
			States []int
			Q      [][]float64
			Counts [][]int
		}
		if err := json.Unmarshal(ckpt.Policies["shared"], &m); err != nil {
			t.Fatal(err)
		}
		// delays_head is the last field of QConfig's discretizer (and the
		// only one of the other): the state's lowest bit.
		agree, states := 0, 0
		var rows []string
		for k, s := range m.States {
			decline := m.Q[k][scheduling.Decline] > m.Q[k][scheduling.Bid]
			if decline == (s&1 == 1) {
				agree++
			}
			states++
			if v.delaysOnly {
				rows = append(rows, fmt.Sprintf("delays_head=%d: Q(decline) %.2f (%d updates), Q(bid) %.2f (%d)", s&1,
					m.Q[k][scheduling.Decline], m.Counts[k][scheduling.Decline], m.Q[k][scheduling.Bid], m.Counts[k][scheduling.Bid]))
			}
		}
		line = line[:0]
		for _, l := range loads {
			line = append(line, fmt.Sprintf("%s %.2f", l, diagEval(t, name, ckpt, diagConfig(t, l), seeds)))
		}
		fmt.Printf("%s, seed %d (trained in %.0fs): greedy as bidding-reserve in %d of %d states; %s\n", v.name, v.seed, took.Seconds(), agree, states, strings.Join(line, "; "))
		for _, r := range rows {
			fmt.Println("    " + r)
		}
	}
}

func diagConfig(t *testing.T, name string) campaign.Config {
	for _, c := range campaign.Seed003() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no configuration %s", name)
	return campaign.Config{}
}

// diagEval is the mean bounded slowdown of method (a learner greedily, from
// ckpt) over the episodes of c seeded with seeds, run as Runner.Run does.
func diagEval(t *testing.T, method string, ckpt *learning.Checkpoint, c campaign.Config, seeds []uint64) float64 {
	e, err := scheduling.New(Scenario(c))
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, s := range seeds {
		team, _, err := env.NewTeam(e, method, env.RunOptions{Seed: 1, Load: ckpt})
		if err != nil {
			t.Fatal(err)
		}
		team.SetLearning(false)
		team.BeginEpisode()
		out, err := env.RunSim(e, s, env.Agents(team.Agent), 0)
		team.EndEpisode()
		if err != nil {
			t.Fatal(err)
		}
		if !out.Done {
			t.Fatalf("%s on %s seed %d: the episode did not end", method, c.Name, s)
		}
		sum += out.Episode.(*scheduling.Episode).Result().Metrics()["mean_bsld"]
	}
	return sum / float64(len(seeds))
}

func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}
