package policygradient

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

var _ learning.Resumable = (*Policy)(nil)

// trainOn runs episodes from..to-1 of busy on p, learning.
func trainOn(t *testing.T, p *Policy, from, to int) {
	t.Helper()
	team := learning.NewSharedTeam(p)
	for k := from; k < to; k++ {
		team.BeginEpisode()
		if _, err := busy(learning.TrainSeed(4, k), team.Agent); err != nil {
			t.Fatal(err)
		}
		team.EndEpisode()
	}
}

// A policy restored from another's model and update state learns on
// exactly as the other does, to the bit; restored from the model alone
// (fresh moments and advantage scale) it does not.
func TestResumedPolicyStepsAsTheOriginal(t *testing.T) {
	for name, cfg := range map[string]Config{"softmax": testConfig(), "beta": betaConfig()} {
		t.Run(name, func(t *testing.T) {
			cfg.Gamma, cfg.Coordinated = 0.9, true
			orig := newPolicy(t, cfg, 3)
			trainOn(t, orig, 0, 8)
			model, err := orig.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			state, err := orig.MarshalUpdateState()
			if err != nil {
				t.Fatal(err)
			}
			resumed, fresh := newPolicy(t, cfg, 3), newPolicy(t, cfg, 3)
			for _, p := range []*Policy{resumed, fresh} {
				if err := p.UnmarshalBinary(model); err != nil {
					t.Fatal(err)
				}
			}
			if err := resumed.UnmarshalUpdateState(state); err != nil {
				t.Fatal(err)
			}
			if again, _ := resumed.MarshalUpdateState(); !bytes.Equal(again, state) {
				t.Fatal("the restored update state encodes differently from the saved one")
			}
			for _, p := range []*Policy{orig, resumed, fresh} {
				trainOn(t, p, 8, 12)
			}
			want, _ := orig.MarshalBinary()
			if got, _ := resumed.MarshalBinary(); !bytes.Equal(got, want) {
				t.Error("the resumed policy's networks differ from the original's after the same episodes")
			}
			if got, _ := fresh.MarshalBinary(); bytes.Equal(got, want) {
				t.Error("a policy restored without its update state learns as the original: the test does not exercise the update state")
			}
		})
	}
}

// UnmarshalUpdateState refuses a state that is not one, or not one for
// this policy's networks, and then changes nothing.
func TestUnmarshalUpdateStateRefusesForeignState(t *testing.T) {
	cfg := testConfig()
	p := newPolicy(t, cfg, 1)
	trainOn(t, p, 0, 2)
	good, err := p.MarshalUpdateState()
	if err != nil {
		t.Fatal(err)
	}
	wider := cfg
	wider.Hidden = []int{17}
	edit := func(f func(*updateState)) []byte {
		var s updateState
		if err := json.Unmarshal(good, &s); err != nil {
			t.Fatal(err)
		}
		f(&s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string]struct {
		cfg  Config
		data []byte
		want string
	}{
		"not json":        {cfg, []byte("{"), "not a readable"},
		"unknown field":   {cfg, bytes.Replace(good, []byte(`{`), []byte(`{"x":1,`), 1), "not a readable"},
		"format":          {cfg, edit(func(s *updateState) { s.Format = "other" }), "format"},
		"version":         {cfg, edit(func(s *updateState) { s.Version = 2 }), "version"},
		"negative scale":  {cfg, edit(func(s *updateState) { s.AdvMS = -1 }), "corrupt"},
		"negative steps":  {cfg, edit(func(s *updateState) { s.Value.T = -1 }), "steps"},
		"negative moment": {cfg, edit(func(s *updateState) { s.Policy.V[1][0] = -1 }), "negative second moment"},
		"short moments":   {cfg, edit(func(s *updateState) { s.Value.M = s.Value.M[1:] }), "fit"},
		"other networks":  {wider, good, "fit"},
	}
	for name, c := range cases {
		q := newPolicy(t, c.cfg, 1)
		trainOn(t, q, 0, 1)
		before, _ := q.MarshalUpdateState()
		err := q.UnmarshalUpdateState(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: UnmarshalUpdateState = %v, want an error containing %q", name, err, c.want)
		}
		if after, _ := q.MarshalUpdateState(); !bytes.Equal(before, after) {
			t.Errorf("%s: a refused state changed the update state", name)
		}
	}
	if err := newPolicy(t, cfg, 1).UnmarshalUpdateState(good); err != nil {
		t.Fatalf("the same configuration's state is refused: %v", err)
	}
}
