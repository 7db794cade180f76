package qlearning

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var _ learning.Distributed = (*Policy)(nil)

// busy is an episode of three agents that act in an order drawn from the
// seed, in states that depend on their actions, with masks now and then;
// one agent stops without a terminal observation (its updates are
// bootstrapped at the end of the episode). It exercises the interleaving
// of a shared table's updates that distributed training must reproduce.
func busy(seed uint64, agents learning.Agents) (map[string]float64, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	ids := []learning.AgentID{"a", "b", "c"}
	left := map[learning.AgentID]int{"a": 5, "b": 8, "c": 6}
	pos := map[learning.AgentID]float64{}
	o := func(id learning.AgentID, terminal bool) learning.Observation {
		ob := learning.Observation{Schema: schema, Values: []float64{pos[id], rng.NormFloat64()}, Terminal: terminal}
		if rng.IntN(4) == 0 {
			ob.Mask = []bool{rng.IntN(2) == 0, true}
		}
		return ob
	}
	for _, id := range ids {
		pos[id] = rng.Float64()
		agents(id).InitAgent(o(id, false))
	}
	total := 0.0
	for len(left) > 0 {
		id := ids[rng.IntN(len(ids))]
		n, ok := left[id]
		if !ok {
			continue
		}
		a := agents(id)
		act := a.SampleAction()
		r := float64(act)*rng.Float64() - 0.3*pos[id]
		pos[id] = min(1, max(0, pos[id]+0.4*(float64(act)-0.5)+0.1*rng.NormFloat64()))
		total += r
		left[id] = n - 1
		if n == 1 {
			delete(left, id)
			if id == "c" { // stops short: no terminal observation
				continue
			}
			a.Update(o(id, true), r)
			continue
		}
		a.Update(o(id, false), r)
	}
	return map[string]float64{"reward": total}, nil
}

func distributedConfigs() map[string]Config {
	cfgs := map[string]Config{}
	base := chainConfig()
	base.Discretizer = append(base.Discretizer, Bins{Field: "noise", Edges: []float64{-0.5, 0.5}})
	base.DecayEpisodes = 10
	cfgs["one-step"] = base
	mc := base
	mc.Lambda, mc.Gamma, mc.SampleAverage, mc.Coordinated = 1, 1, true, true
	cfgs["monte-carlo-coordinated"] = mc
	lam := base
	lam.Lambda = 0.6
	cfgs["lambda"] = lam
	return cfgs
}

// One rollout running one episode per update, on the learner's model each
// time, leaves the learner's table where single-process training leaves
// it, to the bit, after every episode.
func TestOneRolloutReproducesSingleProcessTraining(t *testing.T) {
	for name, cfg := range distributedConfigs() {
		t.Run(name, func(t *testing.T) {
			single := newPolicy(t, cfg, 5)
			team := learning.NewSharedTeam(single)
			learner, rollout := newPolicy(t, cfg, 5), newPolicy(t, cfg, 5)
			rteam := learning.NewSharedTeam(rollout)
			for k := 0; k < 40; k++ {
				seed := learning.TrainSeed(9, k)
				team.BeginEpisode()
				if _, err := busy(seed, team.Agent); err != nil {
					t.Fatal(err)
				}
				team.EndEpisode()

				m, _ := learner.MarshalBinary()
				if err := rollout.UnmarshalBinary(m); err != nil {
					t.Fatal(err)
				}
				rollout.BeginRollout(k)
				if _, err := busy(seed, rteam.Agent); err != nil {
					t.Fatal(err)
				}
				x, err := rollout.EndRollout()
				if err != nil {
					t.Fatal(err)
				}
				if err := learner.Learn(x); err != nil {
					t.Fatal(err)
				}
				want, _ := single.MarshalBinary()
				got, _ := learner.MarshalBinary()
				if !bytes.Equal(want, got) {
					t.Fatalf("after episode %d the learner's table differs from single-process training's:\n%s\n%s", k+1, got, want)
				}
			}
			if len(learner.q) < 4 {
				t.Fatalf("only %d states learnt: the episodes do not exercise the table", len(learner.q))
			}
		})
	}
}

// Learn refuses malformed experience, or experience of another table,
// and learns nothing from it.
func TestLearnRefusesForeignExperience(t *testing.T) {
	cfg := distributedConfigs()["one-step"]
	rollout := newPolicy(t, cfg, 1)
	rollout.BeginRollout(0)
	if _, err := busy(1, learning.NewSharedTeam(rollout).Agent); err != nil {
		t.Fatal(err)
	}
	good, err := rollout.EndRollout()
	if err != nil {
		t.Fatal(err)
	}
	mc := cfg
	mc.Lambda = 1
	other := cfg
	other.Discretizer = other.Discretizer[:1]
	cases := map[string]struct {
		cfg  Config
		data []byte
		want string
	}{
		"not json":        {cfg, []byte("{"), "not readable"},
		"format":          {cfg, bytes.Replace(good, []byte(ExperienceFormat), []byte("other"), 1), "format"},
		"other table":     {other, good, "states"},
		"other lambda":    {mc, good, "Lambda"},
		"state out":       {cfg, bytes.Replace(good, []byte(`"s":`), []byte(`"s":99`), 1), ""},
		"unknown field":   {cfg, bytes.Replace(good, []byte(`"format"`), []byte(`"x":1,"format"`), 1), "unknown field"},
		"trailing object": {cfg, append(append([]byte{}, good...), good...), "after"},
	}
	for name, c := range cases {
		learner := newPolicy(t, c.cfg, 1)
		before, _ := learner.MarshalBinary()
		err := learner.Learn(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Learn = %v, want an error containing %q", name, err, c.want)
		}
		if after, _ := learner.MarshalBinary(); !bytes.Equal(before, after) {
			t.Errorf("%s: refused experience changed the table", name)
		}
	}
	learner := newPolicy(t, cfg, 1)
	if err := learner.Learn(good); err != nil {
		t.Fatalf("the same configuration's experience is refused: %v", err)
	}
	if _, err := newPolicy(t, cfg, 1).EndRollout(); err == nil {
		t.Error("EndRollout without BeginRollout succeeded")
	}
}

// Rollouts on stale parameters still teach the learner: their transitions
// are replayed on its current table.
func TestStaleRolloutsStillLearn(t *testing.T) {
	cfg := distributedConfigs()["one-step"]
	learner := newPolicy(t, cfg, 3)
	stale := newPolicy(t, cfg, 3) // never updated: the learner's model at episode 0
	st := learning.NewSharedTeam(stale)
	for k := 0; k < 20; k++ {
		stale.BeginRollout(k)
		if _, err := busy(learning.TrainSeed(1, k), st.Agent); err != nil {
			t.Fatal(err)
		}
		x, err := stale.EndRollout()
		if err != nil {
			t.Fatal(err)
		}
		before, _ := learner.MarshalBinary()
		if err := learner.Learn(x); err != nil {
			t.Fatal(err)
		}
		if after, _ := learner.MarshalBinary(); bytes.Equal(before, after) {
			t.Fatalf("episode %d: experience from a stale rollout changed nothing", k)
		}
	}
	if learner.episodes != 20 {
		t.Fatalf("the learner counted %d episodes, want 20", learner.episodes)
	}
}

func FuzzLearn(f *testing.F) {
	cfg := distributedConfigs()["one-step"]
	rollout, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(2), Seed: 1}, cfg)
	if err != nil {
		f.Fatal(err)
	}
	rollout.BeginRollout(0)
	busy(1, learning.NewSharedTeam(rollout).Agent)
	good, _ := rollout.EndRollout()
	f.Add(good)
	f.Add([]byte(`{"format":"marlon-qlearning-experience","version":1,"actions":2,"states":6,"events":[{"steps":[]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := New(learning.Spec{Observation: schema, Actions: learning.Discrete(2), Seed: 1}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Learn(data) // must not panic
	})
}
