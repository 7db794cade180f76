package faults

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/learning"
)

// log collects what the test's actors saw, as "time what".
type log struct{ lines []string }

func (l *log) add(at float64, format string, args ...any) {
	l.lines = append(l.lines, fmt.Sprintf("%.4g ", at)+fmt.Sprintf(format, args...))
}

func (l *log) has(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, line := range l.lines {
			if line == w {
				found = true
			}
		}
		if !found {
			t.Errorf("missing %q in:\n%s", w, strings.Join(l.lines, "\n"))
		}
	}
}

func (l *log) lacks(t *testing.T, prefix string) {
	t.Helper()
	for _, line := range l.lines {
		if strings.Contains(line, prefix) {
			t.Errorf("unexpected %q in:\n%s", line, strings.Join(l.lines, "\n"))
		}
	}
}

// target records the numbers it receives and answers requests.
type target struct {
	name string
	log  *log
}

func (a target) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case int:
		a.log.add(ctx.Now(), "%s got %d", a.name, m)
		if r := ctx.ReplyTo(); !r.IsZero() {
			ctx.Reply(r, m)
		}
	case actors.Down:
		a.log.add(ctx.Now(), "%s saw %v %s", a.name, m.Actor, m.Reason)
	case watchIt:
		ctx.Watch(m.a)
	}
}

type watchIt struct{ a actors.Addr }

// observer watches its targets and, at given times, sends them numbers or
// requests.
type observer struct {
	log   *log
	watch []actors.Addr
	at    map[float64][]send
}

type send struct {
	to      actors.Addr
	n       int
	request bool
}

type tick struct{ t float64 }

func (o *observer) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case actors.Started:
		for _, a := range o.watch {
			ctx.Watch(a)
		}
		for t := range o.at {
			ctx.After(t, tick{t})
		}
	case tick:
		for _, s := range o.at[m.t] {
			if !s.request {
				ctx.Send(s.to, s.n)
				continue
			}
			n := s.n
			ctx.Request(s.to, n, actors.Forever, func(ctx actors.Context, reply any, err error) {
				if err != nil {
					o.log.add(ctx.Now(), "request %d failed: %v", n, errors.Is(err, actors.ErrUndeliverable))
					return
				}
				o.log.add(ctx.Now(), "request %d answered", n)
			})
		}
	case actors.Down:
		o.log.add(ctx.Now(), "observer saw %v %s", m.Actor, m.Reason)
	case actors.Undeliverable:
		o.log.add(ctx.Now(), "observer: %v undeliverable", m.Msg)
	}
}

// world is a sim with an observer on node m and a target on node a, and
// a plan applied with a restart hook that starts a fresh target.
type world struct {
	sim   *actors.Sim
	in    *Injector
	log   *log
	a     actors.Addr
	back  []string
	kills []string
}

func newWorld(t *testing.T, faults []Fault, at map[float64][]send) *world {
	t.Helper()
	w := &world{sim: actors.NewSim(1), log: &log{}}
	w.a = w.sim.SpawnOn("a", target{"a", w.log})
	for k, sends := range at {
		for i := range sends {
			if sends[i].to.IsZero() {
				sends[i].to = w.a
			}
		}
		at[k] = sends
	}
	obs := w.sim.SpawnOn("m", &observer{log: w.log, watch: []actors.Addr{w.a}, at: at})
	w.sim.Send(w.a, watchIt{obs}) // the target watches the observer too
	plan := Plan{Seed: 1, Detect: 3, RTO: 1, Faults: faults}
	in, err := Inject(w.sim, plan, Hooks{Kill: func(node string) {
		w.kills = append(w.kills, fmt.Sprintf("%s@%.4g", node, w.sim.Now()))
		w.sim.KillNode(node)
	}, Restart: func(node string) {
		w.back = append(w.back, fmt.Sprintf("%s@%.4g", node, w.sim.Now()))
		w.sim.SpawnOn(node, target{node + "'", w.log})
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.in = in
	w.sim.RunUntil(1000, nil)
	return w
}

func TestCrashIsDetectedAfterTheDetectionTimeAndRestarts(t *testing.T) {
	w := newWorld(t, []Fault{{ID: 1, Kind: Crash, At: 10, Duration: 8, Nodes: []string{"a"}}},
		map[float64][]send{9: {{n: 1}}, 11: {{n: 2, request: true}, {n: 3}}})
	w.log.has(t,
		"9 a got 1",
		"13 observer saw a/1 node down", // crash at 10 + detection 3
		"13 request 2 failed: true",     // refused: ErrUndeliverable when declared down
		"13 observer: 3 undeliverable",  // a plain message comes back
	)
	w.log.lacks(t, "a got 2")
	if fmt.Sprint(w.back) != "[a@18]" || fmt.Sprint(w.kills) != "[a@10]" {
		t.Fatalf("kills %v and restarts %v, want [a@10] and [a@18]", w.kills, w.back)
	}
	r := w.in.Report()
	if r.Crashes != 1 || r.Restarts != 1 || r.Refused != 2 || r.Downtime["a"] != 8 {
		t.Fatalf("report %+v", r)
	}
	if r.Timeline[0].What != "crash" || r.Timeline[0].At != 10 || r.Timeline[1].What != "restart" || r.Timeline[1].At != 18 {
		t.Fatalf("timeline %+v", r.Timeline)
	}
}

func TestRestartBeforeDetectionReportsTheOldIncarnationAtRestart(t *testing.T) {
	w := newWorld(t, []Fault{{ID: 1, Kind: Crash, At: 10, Duration: 1.5, Nodes: []string{"a"}}}, map[float64][]send{})
	w.log.has(t, "11.5 observer saw a/1 node down")
	if fmt.Sprint(w.back) != "[a@11.5]" {
		t.Fatalf("restarts %v", w.back)
	}
}

func TestShortPartitionHoldsMessagesUntilTheFirstRetransmissionAfterIt(t *testing.T) {
	// Cut at 10 for 2.5 (less than the detection time 3): a message sent at
	// 10.2 is sent again at 11.2, 12.2, 13.2 and arrives at 13.2, after the
	// heal at 12.5; one sent at 12.4 at 13.4, and one sent after the heal
	// keeps its place behind it.
	w := newWorld(t, []Fault{{ID: 1, Kind: Partition, At: 10, Duration: 2.5, Nodes: []string{"a"}}},
		map[float64][]send{10.2: {{n: 1}}, 12.4: {{n: 2}}, 12.6: {{n: 3}}})
	w.log.has(t, "13.2 a got 1", "13.4 a got 2", "13.4 a got 3")
	w.log.lacks(t, "saw")
	if len(w.back) != 0 || w.in.Report().Held != 2 {
		t.Fatalf("restarts %v, held %d", w.back, w.in.Report().Held)
	}
}

func TestLongPartitionDeclaresBothSidesDownAndRejoinsAsNewIncarnation(t *testing.T) {
	w := newWorld(t, []Fault{{ID: 1, Kind: Partition, At: 10, Duration: 20, Nodes: []string{"a"}}},
		map[float64][]send{11: {{n: 1, request: true}}, 15: {{n: 2, request: true}}, 31: {{n: 3}}})
	w.log.has(t,
		"13 observer saw a/1 node down", // the observer's side declares a down
		"13 a saw m/2 node down",        // and a's side the observer's node
		"13 request 1 failed: true",     // refused at the declaration
		"15 request 2 failed: true",     // refused at once after it
	)
	w.log.lacks(t, "a got")
	if fmt.Sprint(w.back) != "[a@30]" || fmt.Sprint(w.kills) != "[a@30]" {
		t.Fatalf("kills %v and restarts %v, want a killed and rejoining at 30", w.kills, w.back)
	}
	// The observer's message after the heal goes to the old address: the
	// old incarnation was stopped at the heal.
	w.log.lacks(t, "a got 3")
	if r := w.in.Report(); r.DownsDeclared != 2 || r.Restarts != 1 || r.Downtime["a"] != 0 {
		t.Fatalf("report %+v", r)
	}
}

func TestCrashWhileCutOffComesBackAfterTheHeal(t *testing.T) {
	w := newWorld(t, []Fault{
		{ID: 1, Kind: Partition, At: 10, Duration: 20, Nodes: []string{"a"}},
		{ID: 2, Kind: Crash, At: 12, Duration: 5, Nodes: []string{"a"}},
	}, map[float64][]send{})
	if fmt.Sprint(w.back) != "[a@30]" {
		t.Fatalf("restarts %v: a restarted at 17 while cut off must wait for the heal at 30", w.back)
	}
	// The observer last heard from a when the partition began, at 10: it
	// declares a down at 13, whether a crashed since or not.
	w.log.has(t, "13 observer saw a/1 node down")
}

func TestDelayAndLossAreExtraTime(t *testing.T) {
	w := newWorld(t, []Fault{{ID: 1, Kind: Delay, At: 10, Duration: 10, Nodes: []string{"a"}, Delay: 2}},
		map[float64][]send{12: {{n: 1}}, 25: {{n: 2}}})
	w.log.has(t, "14 a got 1", "25 a got 2")

	// Loss and corruption: every message arrives, in order, a whole number
	// of RTOs late, and the retransmissions are counted.
	for _, kind := range []Kind{Loss, Corrupt} {
		sends := map[float64][]send{}
		for i := 0; i < 400; i++ {
			sends[float64(i)*2] = []send{{n: i}}
		}
		w := newWorld(t, []Fault{{ID: 1, Kind: kind, At: 0, Duration: 0, Nodes: []string{"a"}, Rate: 0.5}}, sends)
		late := 0.0
		got := 0
		for _, line := range w.log.lines {
			var at float64
			var n int
			if _, err := fmt.Sscanf(line, "%g a got %d", &at, &n); err == nil {
				d := at - float64(n)*2
				if d < 0 || d != math.Round(d) || n != got {
					t.Fatalf("%s: message %d (the %dth) arrived at %v", kind, n, got, at)
				}
				late += d
				got++
			}
		}
		r := w.in.Report()
		// Messages behind a retransmitted one wait for it: in order.
		if got != 400 || late < float64(r.Retransmitted) {
			t.Fatalf("%s: %d of 400 arrived, %v RTOs late in all, %d retransmissions counted", kind, got, late, r.Retransmitted)
		}
		// With rate 0.5 a message needs 1 retransmission on average.
		if mean := float64(r.Retransmitted) / 400; mean < 0.8 || mean > 1.2 {
			t.Fatalf("%s: %.2f retransmissions per message, want about 1", kind, mean)
		}
		if (kind == Corrupt) != (r.Rejected == r.Retransmitted) || (kind == Loss) != (r.Rejected == 0) {
			t.Fatalf("%s: %d rejected as corrupt of %d retransmitted", kind, r.Rejected, r.Retransmitted)
		}
	}
}

// fixedAlg always chooses the same action and reports no probabilities.
type fixedAlg struct {
	a learning.Action
}

func (f *fixedAlg) InitAgent(learning.Observation)       {}
func (f *fixedAlg) IsLearning() bool                     { return false }
func (f *fixedAlg) SampleAction() learning.Action        { return f.a }
func (f *fixedAlg) Update(learning.Observation, float64) {}
func (f *fixedAlg) ActionProbabilities() []float64       { return nil }
func (f *fixedAlg) AgentJoined(learning.AgentID)         {}
func (f *fixedAlg) AgentLeft(learning.AgentID)           {}

// probAlg chooses the most likely action of fixed probabilities.
type probAlg struct{ fixedAlg }

func (p *probAlg) ActionProbabilities() []float64 { return []float64{0.1, 0.05, 0.5, 0.3, 0.05} }

func TestByzantineAgentsLieOnlyWhileTheFaultLasts(t *testing.T) {
	space := learning.ActionSpace{N: 10, Start: 1}
	mask := make([]bool, 10)
	for i := range 9 {
		mask[i] = true // action 10 (index 9) is not allowed
	}
	run := func(mode Mode, alg learning.LearningAlgorithm, sp learning.ActionSpace, m []bool) (map[float64][]learning.Action, *Injector) {
		sim := actors.NewSim(1)
		in, err := Inject(sim, Plan{Seed: 3, Detect: 3, RTO: 1, Faults: []Fault{{ID: 1, Kind: Byzantine, At: 10, Duration: 10, Agents: []learning.AgentID{"liar"}, Mode: mode}}}, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		agents := in.Agents(func(id learning.AgentID) learning.LearningAlgorithm { return alg },
			func(learning.AgentID) learning.ActionSpace { return sp })
		liar, honest := agents("liar"), agents("honest")
		if honest != alg {
			t.Fatal("an agent no fault names was wrapped")
		}
		got := map[float64][]learning.Action{}
		sim.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
			switch msg.(type) {
			case actors.Started:
				liar.InitAgent(learning.Observation{Mask: m})
				for _, at := range []float64{5, 15, 25} {
					ctx.After(at, at)
				}
			case float64:
				for range 20 {
					got[ctx.Now()] = append(got[ctx.Now()], liar.SampleAction())
				}
			}
		}))
		sim.Run()
		return got, in
	}
	got, in := run(Adversarial, &fixedAlg{a: 4}, space, mask)
	// Honest is 4 (index 3); the farthest allowed from it is 9 (index 8),
	// as 10 is masked.
	if got[5][0] != 4 || got[25][0] != 4 || got[15][0] != 9 || in.Report().Lies != 20 {
		t.Fatalf("adversarial without probabilities: %v, %d lies", got, in.Report().Lies)
	}
	got, _ = run(Adversarial, &probAlg{fixedAlg{a: 2}}, learning.ActionSpace{N: 5}, nil)
	// Least likely: indexes 1 and 4 (0.05 each); 4 is farther from 2.
	if got[15][0] != 4 {
		t.Fatalf("adversarial with probabilities chose %v, want 4", got[15])
	}
	got, _ = run(RandomMode, &fixedAlg{a: 4}, space, mask)
	seen := map[learning.Action]bool{}
	for _, a := range got[15] {
		if !space.Contains(a) || a == 10 {
			t.Fatalf("random lie %d outside the allowed actions", a)
		}
		seen[a] = true
	}
	if len(seen) < 4 || got[5][0] != 4 {
		t.Fatalf("random lies %v: want several different actions, honest outside the window", got)
	}
	if m, ok := in.Lying("liar"); ok {
		t.Fatalf("Lying after the fault: %v", m)
	}
}

type hop int

// gossip runs a small random system across nodes under a plan and hashes
// its trace.
func gossipTrace(t *testing.T, planSeed uint64) (uint64, Report) {
	sim := actors.NewSim(5)
	h := fnv.New64a()
	sim.SetTracer(func(e actors.TraceEvent) { fmt.Fprintf(h, "%v|%v|%v|%T\n", e.At, e.From, e.To, e.Msg) })
	names := nodes(6)
	var peers []actors.Addr
	spawn := func(node string) actors.Addr {
		return sim.SpawnOn(node, actors.ActorFunc(func(ctx actors.Context, msg any) {
			switch m := msg.(type) {
			case actors.Started:
				ctx.After(ctx.Rand().Float64(), hop(0))
			case int: // a token: pass it on after a while
				if m < 300 {
					ctx.After(ctx.Rand().Float64()*3, hop(m+1))
				}
			case hop:
				to := peers[ctx.Rand().IntN(len(peers))]
				ctx.Send(to, int(m))
				ctx.Watch(to)
			}
		}))
	}
	for _, n := range names {
		peers = append(peers, spawn(n))
	}
	plan, err := Generate(Spec{Intensity: Chaos, Kinds: DefaultKinds()}, Targets{Nodes: names, Horizon: 100}, planSeed)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Inject(sim, plan, Hooks{Restart: func(node string) { peers = append(peers, spawn(node)) }})
	if err != nil {
		t.Fatal(err)
	}
	sim.RunUntil(200, nil)
	return h.Sum64(), in.Report()
}

func TestSameSeedSameTrace(t *testing.T) {
	a, ra := gossipTrace(t, 1)
	b, _ := gossipTrace(t, 1)
	if a != b {
		t.Fatal("the same plan gave two traces")
	}
	if c, _ := gossipTrace(t, 2); a == c {
		t.Fatal("plans 1 and 2 gave the same trace")
	}
	if ra.Crashes == 0 || ra.Retransmitted+ra.Delayed+ra.Held+ra.Refused == 0 {
		t.Fatalf("the plan did too little to prove anything: %+v", ra)
	}
	var sb strings.Builder
	if err := ra.WriteText(&sb); err != nil || !strings.Contains(sb.String(), "crash") {
		t.Fatalf("text report %q, %v", sb.String(), err)
	}
}
