package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/learning"
)

func nodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i)
	}
	return out
}

func generate(t *testing.T, s Spec, tg Targets, seed uint64) Plan {
	t.Helper()
	p, err := Generate(s, tg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSameSeedSamePlan(t *testing.T) {
	tg := Targets{Nodes: nodes(10), Agents: []learning.AgentID{"x", "y"}, Horizon: 500}
	s := Spec{Intensity: Chaos, Kinds: Kinds()}
	a, b := generate(t, s, tg, 7), generate(t, s, tg, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two plans")
	}
	if reflect.DeepEqual(a.Faults, generate(t, s, tg, 8).Faults) {
		t.Fatal("seeds 7 and 8 gave the same plan")
	}
	// A plan survives JSON.
	js, _ := json.Marshal(a)
	var back Plan
	if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(a, back) {
		t.Fatalf("plan does not survive JSON: %v", err)
	}
}

func TestIntensitiesScaleAsTheSeedSays(t *testing.T) {
	tg := Targets{Nodes: nodes(20), Horizon: 1000}
	// light 1 x 20% of 20, medium 2 x 30%, heavy 3 x 40%, chaos 5 x 60%.
	want := map[Intensity]int{None: 0, Light: 4, Medium: 12, Heavy: 24, Chaos: 60}
	prevOutage, prevDelay := 0.0, 0.0
	for _, in := range Intensities() {
		var outage, delay float64
		var nOut, nDelay int
		for seed := uint64(1); seed <= 30; seed++ {
			crash := generate(t, Spec{Intensity: in, Kinds: []Kind{Crash}}, tg, seed)
			if len(crash.Faults) != want[in] {
				t.Fatalf("%s: %d crashes, want %d", in, len(crash.Faults), want[in])
			}
			for _, f := range crash.Faults {
				outage += f.Duration
				nOut++
				if f.At < 100 || f.At > 900 {
					t.Fatalf("%s: crash at %v, outside 10%%-90%% of the horizon", in, f.At)
				}
			}
			link := generate(t, Spec{Intensity: in, Kinds: []Kind{Delay, Loss}}, tg, seed)
			for _, f := range link.Faults {
				switch f.Kind {
				case Delay:
					delay += f.Delay
					nDelay++
				case Loss:
					lv, _ := in.Level()
					if f.Rate != Severe(lv.Severity).Rate {
						t.Fatalf("%s: loss rate %v, want %v", in, f.Rate, Severe(lv.Severity).Rate)
					}
				}
			}
		}
		if in == None {
			continue
		}
		outage /= float64(nOut)
		delay /= float64(max(nDelay, 1))
		if !(outage > prevOutage) || !(delay > prevDelay) {
			t.Fatalf("%s: mean outage %.1f and delay %.2f do not grow from the milder intensity's %.1f and %.2f", in, outage, delay, prevOutage, prevDelay)
		}
		prevOutage, prevDelay = outage, delay
	}
	// Targets overrides the share: a campaign's failure rate.
	p := generate(t, Spec{Intensity: Medium, Faults: 1, Targets: 0.35, Kinds: []Kind{Crash}}, Targets{Nodes: nodes(15), Horizon: 100}, 1)
	if len(p.Faults) != 5 { // round(0.35*15)
		t.Fatalf("failure rate 35%% of 15 nodes: %d crashes, want 5", len(p.Faults))
	}
	distinct := map[string]bool{}
	for _, f := range p.Faults {
		distinct[f.Nodes[0]] = true
	}
	if len(distinct) != 5 {
		t.Fatalf("an incident's crashes hit %d distinct nodes, want 5", len(distinct))
	}
}

func TestPartitionPattern(t *testing.T) {
	tg := Targets{Nodes: nodes(10), Horizon: 300}
	for seed := uint64(1); seed <= 50; seed++ {
		p := generate(t, Spec{Intensity: Chaos, Pattern: PartitionPattern}, tg, seed)
		if len(p.Faults) != 5 {
			t.Fatalf("seed %d: %d partitions, want 5", seed, len(p.Faults))
		}
		for i, f := range p.Faults {
			if f.Kind != Partition || len(f.Nodes) != 6 || f.Duration <= 0 {
				t.Fatalf("seed %d: fault %+v, want a partition of 6 nodes", seed, f)
			}
			if i > 0 && f.At < p.Faults[i-1].End() {
				t.Fatalf("seed %d: partitions %d and %d overlap", seed, i, i+1)
			}
		}
	}
}

func TestCascadesFollowRelatedNodes(t *testing.T) {
	tg := Targets{Nodes: nodes(12), Horizon: 300}
	cascaded := 0
	for seed := uint64(1); seed <= 100; seed++ {
		p := generate(t, Spec{Intensity: Chaos, Pattern: Cascading}, tg, seed)
		byID := map[int]Fault{}
		roots := 0
		for _, f := range p.Faults {
			if f.Kind != Crash {
				t.Fatalf("seed %d: %s in a cascading plan", seed, f.Kind)
			}
			byID[f.ID] = f
			if f.Cause == 0 {
				roots++
				continue
			}
			cascaded++
			c := byID[f.Cause]
			i, j := slices.Index(tg.Nodes, c.Nodes[0]), slices.Index(tg.Nodes, f.Nodes[0])
			if d := (i - j + 12) % 12; d != 1 && d != 11 {
				t.Fatalf("seed %d: crash of %s set off by %s, not a neighbour", seed, f.Nodes[0], c.Nodes[0])
			}
			if f.At < c.At || f.At > c.At+2*p.Detect {
				t.Fatalf("seed %d: crash at %v set off by a crash at %v: not within two detection times", seed, f.At, c.At)
			}
		}
		if roots != 5 || len(p.Faults) > 5*share(0.6, 12) {
			t.Fatalf("seed %d: %d roots and %d crashes; want 5 roots, at most %d crashes", seed, roots, len(p.Faults), 5*share(0.6, 12))
		}
	}
	if cascaded < 100 {
		t.Fatalf("only %d crashes set off by others in 100 chaos plans: cascades hardly happen", cascaded)
	}
	// Related overrides the neighbours.
	only := Targets{Nodes: nodes(12), Horizon: 300, Related: func(string) []string { return []string{"n0"} }}
	for seed := uint64(1); seed <= 20; seed++ {
		for _, f := range generate(t, Spec{Intensity: Chaos, Pattern: Cascading}, only, seed).Faults {
			if f.Cause != 0 && f.Nodes[0] != "n0" {
				t.Fatalf("cascade reached %s; Related names only n0", f.Nodes[0])
			}
		}
	}
}

func TestBadSpecsAndPlansAreRefused(t *testing.T) {
	for _, c := range []struct {
		s     Spec
		field string
	}{
		{Spec{Intensity: "severe"}, "faults"},
		{Spec{Intensity: Light, Pattern: "zigzag"}, "fault-pattern"},
		{Spec{Intensity: Light, Targets: 1.5}, "fault-targets"},
		{Spec{Intensity: Light, Severity: 9}, "fault-severity"},
		{Spec{Intensity: Light, Kinds: []Kind{"meteor"}}, "fault-kinds"},
		{Spec{Intensity: Light, Heartbeat: math.NaN()}, "fault-heartbeat"},
	} {
		err := c.s.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: got %v, want an error naming --%s", c.s, err, c.field)
		}
	}
	if _, err := Generate(Spec{Intensity: Light, Kinds: []Kind{Byzantine}}, Targets{Nodes: nodes(3), Horizon: 10}, 1); err == nil || !strings.Contains(err.Error(), "byzantine") {
		t.Errorf("byzantine faults without agents: got %v", err)
	}
	if _, err := ParseKinds("crash,nope"); err == nil {
		t.Error("ParseKinds accepted an unknown kind")
	}
	good := Plan{Detect: 3, RTO: 1, Faults: []Fault{
		{ID: 1, Kind: Partition, At: 10, Duration: 10, Nodes: []string{"a"}},
		{ID: 2, Kind: Crash, At: 12, Duration: 5, Nodes: []string{"b"}},
	}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*Plan)
		want string
	}{
		{func(p *Plan) {
			p.Faults = append(p.Faults, Fault{ID: 3, Kind: Partition, At: 15, Duration: 1, Nodes: []string{"c"}})
		}, "overlap"},
		{func(p *Plan) { p.Faults[1].Cause = 1 }, "not an earlier crash"},
		{func(p *Plan) { p.Faults[1].Nodes = []string{Node} }, "node names"},
		{func(p *Plan) { p.Faults[1].ID = 1 }, "distinct"},
		{func(p *Plan) { p.Faults[0].Duration = -1 }, "duration"},
		{func(p *Plan) {
			p.Faults = append(p.Faults, Fault{ID: 3, Kind: Loss, At: 1, Nodes: []string{"c"}, Rate: 1})
		}, "rate"},
		{func(p *Plan) { p.RTO = 0 }, "rto"},
	} {
		p := good
		p.Faults = slices.Clone(good.Faults)
		c.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error about %q", err, c.want)
		}
	}
}
