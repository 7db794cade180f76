package policygradient

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var _ learning.Distributed = (*Policy)(nil)

// busy is an episode of three agents acting in an order drawn from the
// seed, with masks now and then, rewards that depend on the actions, and
// one agent that stops without a terminal observation (bootstrapped).
func busy(seed uint64, agents learning.Agents) (map[string]float64, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	ids := []learning.AgentID{"c", "a", "b"}
	left := map[learning.AgentID]int{"a": 5, "b": 9, "c": 6}
	o := func(terminal bool) learning.Observation {
		ob := obs(rng.Float64(), rng.NormFloat64(), terminal)
		if rng.IntN(4) == 0 {
			ob.Mask = []bool{true, rng.IntN(2) == 0, true}
		}
		return ob
	}
	for _, id := range ids {
		agents(id).InitAgent(o(false))
	}
	total := 0.0
	for len(left) > 0 {
		id := ids[rng.IntN(len(ids))]
		n, ok := left[id]
		if !ok {
			continue
		}
		a := agents(id)
		r := float64(a.SampleAction()) * rng.Float64()
		total += r
		left[id] = n - 1
		switch {
		case n > 1:
			a.Update(o(false), r)
		case id != "c": // c stops short: no terminal observation
			a.Update(o(true), r)
			delete(left, id)
		default:
			delete(left, id)
		}
	}
	return map[string]float64{"reward": total}, nil
}

// One rollout running one episode per update, on the learner's parameters
// each time, leaves the learner where single-process training leaves it, to
// the bit, after every episode (Adam's moments and the advantage scale
// included: the next step would differ otherwise).
func TestOneRolloutReproducesSingleProcessTraining(t *testing.T) {
	for _, coordinated := range []bool{true, false} {
		cfg := testConfig()
		cfg.Gamma, cfg.Lambda, cfg.Coordinated = 0.9, 0.8, coordinated
		single := newPolicy(t, cfg, 5)
		team := learning.NewSharedTeam(single)
		learner, rollout := newPolicy(t, cfg, 5), newPolicy(t, cfg, 5)
		rteam := learning.NewSharedTeam(rollout)
		for k := 0; k < 25; k++ {
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
				t.Fatalf("coordinated %v: after episode %d the learner's networks differ from single-process training's", coordinated, k+1)
			}
			if k == 0 {
				if first, _ := newPolicy(t, cfg, 5).MarshalBinary(); bytes.Equal(first, got) {
					t.Fatal("the first step changed nothing: the test does not exercise learning")
				}
			}
		}
	}
}

func TestLearnRefusesForeignExperience(t *testing.T) {
	cfg := testConfig()
	rollout := newPolicy(t, cfg, 1)
	rollout.BeginRollout(0)
	if _, err := busy(1, learning.NewSharedTeam(rollout).Agent); err != nil {
		t.Fatal(err)
	}
	good, err := rollout.EndRollout()
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.Inputs = []Input{{Field: "x", Scale: 1}}
	cases := map[string]struct {
		cfg  Config
		data []byte
		want string
	}{
		"not json":     {cfg, []byte("["), "not readable"},
		"format":       {cfg, bytes.Replace(good, []byte(ExperienceFormat), []byte("other"), 1), "format"},
		"other inputs": {cfg, good, ""},
		"bad action":   {cfg, bytes.Replace(good, []byte(`"acts":[`), []byte(`"acts":[7,`), 1), "actions"},
		"repeated id":  {cfg, bytes.Replace(good, []byte(`"id":"b"`), []byte(`"id":"a"`), 1), "repeated"},
		"trailing":     {cfg, append(append([]byte{}, good...), '{'), "after"},
	}
	cases["other inputs"] = struct {
		cfg  Config
		data []byte
		want string
	}{other, good, "inputs"}
	for name, c := range cases {
		learner := newPolicy(t, c.cfg, 1)
		before, _ := learner.MarshalBinary()
		err := learner.Learn(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Learn = %v, want an error containing %q", name, err, c.want)
		}
		if after, _ := learner.MarshalBinary(); !bytes.Equal(before, after) {
			t.Errorf("%s: refused experience changed the networks", name)
		}
	}
	if err := newPolicy(t, cfg, 1).Learn(good); err != nil {
		t.Fatalf("the same configuration's experience is refused: %v", err)
	}
	if _, err := newPolicy(t, cfg, 1).EndRollout(); err == nil {
		t.Error("EndRollout without BeginRollout succeeded")
	}
}

func FuzzLearn(f *testing.F) {
	cfg := testConfig()
	rollout, err := New(spec(1), cfg)
	if err != nil {
		f.Fatal(err)
	}
	rollout.BeginRollout(0)
	busy(1, learning.NewSharedTeam(rollout).Agent)
	good, _ := rollout.EndRollout()
	f.Add(good)
	f.Add([]byte(`{"format":"marlon-pg-experience","version":1,"inputs":2,"actions":3,"agents":[{"id":"a","x":[0,0],"allowed":[true,true,true],"acts":[0],"rews":[1],"segs":[{"end":1}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := New(spec(1), cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Learn(data) // must not panic
	})
}
