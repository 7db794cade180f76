package main

// marlon train and marlon node --rollouts: training across nodes over NATS
// JetStream (package training).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/coordination"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/examples/loadbalancing"
	"github.com/marlon-go/marlon/examples/loadbalancing/learners"
	"github.com/marlon-go/marlon/examples/scheduling"
	schedlearners "github.com/marlon-go/marlon/examples/scheduling/learners"
	"github.com/marlon-go/marlon/learning"
	dtrain "github.com/marlon-go/marlon/training"
)

// trainableEnv is an environment that marlon train can train across nodes
// and marlon node --rollouts can run: its family and versions, training
// defaults, scenario flags, and how to make it from a run's scenario.
type trainableEnv struct {
	family   string
	versions []string
	defaults trainingDefaults
	// flags registers the environment's scenario flags on fs; the returned
	// function, called after parsing, gives the scenario to send to the
	// nodes.
	flags func(fs *flag.FlagSet) func() (json.RawMessage, error)
	// make builds the environment version from a scenario and a seed.
	make func(version string, scenario json.RawMessage, seed uint64) (env.Environment, error)
}

// trainableEnvs are the environments marlon train serves; the first is
// the default.
func trainableEnvs() []trainableEnv {
	return []trainableEnv{{
		family: loadbalancing.Family, versions: loadbalancing.Versions(), defaults: trainingDefaults(learners.DefaultTraining()),
		flags: func(fs *flag.FlagSet) func() (json.RawMessage, error) {
			def := loadbalancing.Default()
			var (
				workers      = fs.Int("workers", def.Workers, "number of workers at the start")
				speeds       = fs.String("speeds", fmt.Sprintf("%d-%d", def.SpeedMin, def.SpeedMax), "worker speeds: a list with one per worker (1,2,3.5) or a range MIN-MAX of integers to draw from")
				job          = fs.Int("job", def.Job, "work units in the job")
				unitTime     = fs.Float64("unit-time", def.UnitTime, "time one unit of mean cost takes at speed 1")
				commTime     = fs.Float64("comm-time", def.CommTime, "time the Master takes to serve one request")
				variability  = fs.Float64("variability", def.Variability, "coefficient of variation of the units' costs")
				scenarioFile = fs.String("scenario", "", "read the scenario from a JSON `file`; flags given override it")
				joins        listFlag
				leaves       listFlag
				ff           faultFlags
				dyn          dynamicFlags
			)
			ff.register(fs, true)
			dyn.register(fs)
			fs.Var(&joins, "join", "`COUNT@TIME[:SPEED]`: COUNT workers join at TIME; repeatable")
			fs.Var(&leaves, "leave", "`WORKER@TIME`: worker WORKER leaves at TIME; repeatable")
			return func() (json.RawMessage, error) {
				sc, err := scenarioFrom(*scenarioFile, fs, scenarioFlags{*workers, *speeds, *job, *unitTime, *commTime, *variability, joins, leaves, ff, dyn}, false)
				if err != nil {
					return nil, err
				}
				return json.Marshal(sc)
			}
		},
		make: func(version string, scenario json.RawMessage, seed uint64) (env.Environment, error) {
			var sc loadbalancing.Scenario
			dec := json.NewDecoder(bytes.NewReader(scenario))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sc); err != nil {
				return nil, fmt.Errorf("the run's scenario: %w", err)
			}
			return loadbalancing.NewVersion(version, sc, seed)
		},
	}, {
		family: scheduling.Family, versions: scheduling.Versions(), defaults: trainingDefaults(schedlearners.DefaultTraining()),
		flags: func(fs *flag.FlagSet) func() (json.RawMessage, error) {
			scenario := schedulingScenarioFlags(fs)
			return func() (json.RawMessage, error) {
				sc, err := scenario()
				if err != nil {
					return nil, err
				}
				return json.Marshal(sc)
			}
		},
		make: func(version string, scenario json.RawMessage, _ uint64) (env.Environment, error) {
			var sc scheduling.Scenario
			dec := json.NewDecoder(bytes.NewReader(scenario))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sc); err != nil {
				return nil, fmt.Errorf("the run's scenario: %w", err)
			}
			return scheduling.NewVersion(version, sc)
		},
	}}
}

// newTrainEnv makes a run's environment, whichever of trainableEnvs it is.
func newTrainEnv(s dtrain.Spec) (env.Environment, error) {
	family, version, _ := strings.Cut(s.Env, "/")
	for _, te := range trainableEnvs() {
		if te.family == family {
			if !slices.Contains(te.versions, version) {
				return nil, fmt.Errorf("this build has no %s (it has versions %v)", s.Env, te.versions)
			}
			return te.make(version, s.Scenario, s.Seed)
		}
	}
	return nil, fmt.Errorf("this build cannot run environment %s", s.Env)
}

// envFromArgs finds the environment --env names in args (the first one
// by default), before the flags are parsed: its scenario flags depend on it.
func envFromArgs(args []string) (trainableEnv, error) {
	all := trainableEnvs()
	for i, a := range args {
		var v string
		switch {
		case a == "--env" || a == "-env":
			if i+1 < len(args) {
				v = args[i+1]
			}
		case strings.HasPrefix(a, "--env=") || strings.HasPrefix(a, "-env="):
			_, v, _ = strings.Cut(a, "=")
		default:
			continue
		}
		family, _, _ := strings.Cut(v, "/")
		var names []string
		for _, te := range all {
			if te.family == family {
				return te, nil
			}
			for _, ver := range te.versions {
				names = append(names, te.family+"/"+ver)
			}
		}
		return trainableEnv{}, usageError{fmt.Errorf("--env: unknown %q; one of %s", v, strings.Join(names, ", "))}
	}
	return all[0], nil
}

// jsFlags are the flags of a process that uses JetStream for training.
type jsFlags struct {
	nats, token, nkey string
	replicas          int
	onlyGiven         bool
}

func (f *jsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nats, "nats", "", "NATS server `URL`s with JetStream, comma-separated (start them with marlon nats --jetstream, or --local-cluster)")
	fs.StringVar(&f.token, "token", "", "token the NATS server requires (default $MARLON_NATS_TOKEN)")
	fs.StringVar(&f.nkey, "nkey", "", "NATS user nkey seed `file` the server requires, made by marlon keys --nkey")
	fs.BoolVar(&f.onlyGiven, "only-given-servers", false, "connect only to the --nats servers, not to the others of their cluster that they announce")
	fs.IntVar(&f.replicas, "replicas", 1, "replicas of the coordination bucket and object store: 1 (one server) or 3 (a cluster of three, survives the loss of one); the same on every process")
}

func (f *jsFlags) check() error {
	switch {
	case f.nats == "":
		return usageError{errors.New("--nats: the NATS servers' URLs are required (start them with marlon nats --jetstream or --local-cluster)")}
	case f.replicas != 1 && f.replicas != 3:
		return usageError{fmt.Errorf("--replicas: 1 or 3, got %d", f.replicas)}
	}
	return nil
}

// connect connects to NATS as the coordination stores need: reconnecting
// for ever, without a reconnect buffer.
func (f *jsFlags) connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1), nats.ReconnectWait(100 * time.Millisecond), nats.Timeout(2 * time.Second), nats.RetryOnFailedConnect(true)}
	tok := f.token
	if tok == "" {
		tok = os.Getenv("MARLON_NATS_TOKEN")
	}
	if tok != "" {
		opts = append(opts, nats.Token(tok))
	}
	if f.onlyGiven {
		opts = append(opts, nats.IgnoreDiscoveredServers())
	}
	if f.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(f.nkey)
		if err != nil {
			return nil, usageError{fmt.Errorf("--nkey: %v", err)}
		}
		opts = append(opts, o)
	}
	return nats.Connect(f.nats, opts...)
}

func (f *jsFlags) start(ctx context.Context, member string, nc *nats.Conn, log *slog.Logger) (*dtrain.Live, error) {
	var last time.Time
	return dtrain.StartLive(ctx, nc, dtrain.LiveConfig{Member: member,
		Bucket: coordination.BucketConfig{Replicas: f.replicas},
		Store:  coordination.StoreConfig{Timeout: 2000, ProbeEvery: 100},
		OnRetry: func(err error) {
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				log.Warn("JetStream not ready yet; trying again", "nats", f.nats, "err", err)
			}
		}})
}

const trainExamples = `
Examples:
  marlon nats --local-cluster                       three servers with JetStream on ports 4222-4224
  marlon node --rollouts --nats nats://127.0.0.1:4222 --name n1 --replicas 3    on each node
  marlon train --nats nats://127.0.0.1:4222 --replicas 3 --algorithm pg --min-nodes 3
                                                    train pg on the default scenario, 300 episodes
  marlon train --nats URL --algorithm qlearning --episodes 600 --per-node 2 --workers 16 --json
  marlon train --nats URL --algorithm pg --compare-single   also train in this process, and compare
  marlon train --nats URL --env scheduling/v1 --algorithm qlearning --jobs 100   any environment marlon train knows
`

func runTrain(args []string, stdout, stderr io.Writer) int {
	te, err := envFromArgs(args)
	if err != nil {
		return fail(stderr, err)
	}
	fs := flag.NewFlagSet("marlon train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf runFlags
	rf.register(fs, te.family, te.versions, te.defaults)
	scenario := te.flags(fs)
	var jf jsFlags
	jf.register(fs)
	var (
		runID     = fs.String("run", "", "the run's `name` (default: run- and the time)")
		nodes     = fs.Int("min-nodes", 1, "rollout nodes to wait for before the first epoch (later ones join at the next)")
		updates   = fs.Int("updates", 0, "updates the learner makes (0: --episodes / (--per-node x --min-nodes), rounded up)")
		perNode   = fs.Int("per-node", 1, "episodes each rollout node runs per update")
		ckptEvery = fs.Int("checkpoint-every", 10, "store a checkpoint in the object store every this many updates")
		epochTO   = fs.Duration("epoch-timeout", 30*time.Second, "an epoch's barrier gives up on rollout nodes that have not arrived after this long")
		timeout   = fs.Duration("wait", time.Hour, "give up waiting for the run after this long")
		single    = fs.Bool("compare-single", false, "also train in this process, single-process, with the same seed and episodes, and compare")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon train --nats URL --algorithm NAME [flags]\n\nTrains a learner across the rollout nodes (marlon node --rollouts) that\nshare the NATS servers' JetStream: the nodes run episodes with the current\nparameters and send their experience; an elected learner learns from it,\npublishes new parameters every update and checkpoints to the object store,\nand another node takes over from the last checkpoint if it dies. This\ncommand starts the run, follows it, and evaluates the trained models\ngreedily on the evaluation episodes single-process training uses.\n\nThe scenario flags are those of the --env environment's own command\n(default loadbalancing; marlon train --env scheduling/v1 --help lists\nscheduling's).\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), trainExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, f := range []string{"compare", "load", "plot", "log"} {
		if set[f] {
			return fail(stderr, usageError{fmt.Errorf("--%s: not with marlon train", f)})
		}
	}
	if err := rf.check(); err != nil {
		return fail(stderr, err)
	}
	if err := jf.check(); err != nil {
		return fail(stderr, err)
	}
	switch {
	case rf.algorithm == "":
		return fail(stderr, usageError{fmt.Errorf("--algorithm: name the learner to train: %s", strings.Join(rf.learners(), ", "))})
	case *nodes < 1:
		return fail(stderr, usageError{fmt.Errorf("--min-nodes: at least 1, got %d", *nodes)})
	case *updates < 0:
		return fail(stderr, usageError{fmt.Errorf("--updates: at least 0, got %d", *updates)})
	case *perNode < 1:
		return fail(stderr, usageError{fmt.Errorf("--per-node: at least 1, got %d", *perNode)})
	case *ckptEvery < 1:
		return fail(stderr, usageError{fmt.Errorf("--checkpoint-every: at least 1, got %d", *ckptEvery)})
	case *epochTO < 10*time.Millisecond:
		return fail(stderr, usageError{fmt.Errorf("--epoch-timeout: at least 10ms, got %v", *epochTO)})
	case rf.episodes < 1 && *updates == 0:
		return fail(stderr, usageError{fmt.Errorf("--episodes: at least 1 (or give --updates), got %d", rf.episodes)})
	}
	if a, _ := learning.Lookup(te.family, rf.algorithm); !a.Learns {
		return fail(stderr, usageError{fmt.Errorf("--algorithm: %s does not learn; one of %s", rf.algorithm, strings.Join(rf.learners(), ", "))})
	}
	sc, err := scenario()
	if err != nil {
		return fail(stderr, err)
	}
	if *runID == "" {
		*runID = fmt.Sprintf("run-%d", time.Now().UnixMilli())
	}
	u := *updates
	if u == 0 {
		u = (rf.episodes + *perNode**nodes - 1) / (*perNode * *nodes)
	}
	spec := dtrain.Spec{ID: *runID, Env: rf.env, Scenario: sc, Algorithm: rf.algorithm, Actions: rf.actions, Independent: rf.independent,
		Seed: rf.seed, Updates: u, PerNode: *perNode, MinNodes: *nodes, CheckpointEvery: *ckptEvery,
		EvalEvery: rf.defaultEvery, EvalEpisodes: rf.evalEpisodes, Select: rf.selectMetric, EpochTimeout: float64(*epochTO / time.Millisecond)}
	data, err := dtrain.EncodeSpec(spec)
	if err != nil {
		return fail(stderr, usageError{fmt.Errorf("--run: %w", err)})
	}
	e, err := newTrainEnv(spec)
	if err != nil {
		return fail(stderr, usageError{err})
	}
	if err := rf.checkEnv(e); err != nil {
		return fail(stderr, err)
	}

	con := newConsole(stderr)
	log := con.logger(slog.LevelInfo)
	ctx, stop := signalled()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, err := jf.connect("marlon train " + spec.ID)
	if err != nil {
		return fail(stderr, err)
	}
	defer nc.Close()
	member := "train-" + strings.ReplaceAll(spec.ID, ".", "-")
	if len(member) > 64 {
		member = member[:64]
	}
	lv, err := jf.start(ctx, member, nc, log)
	if err != nil {
		return fail(stderr, fmt.Errorf("--nats: %w", err))
	}
	defer lv.RT.Close()
	runVar := lv.RT.Spawn(must(coordination.NewVar(coordination.VarConfig{Store: lv.Store, Name: dtrain.RunVar, Member: member})))
	paramsVar := lv.RT.Spawn(must(coordination.NewVar(coordination.VarConfig{Store: lv.Store, Name: dtrain.ParamsVar(spec.ID), Member: member})))
	doneVar := lv.RT.Spawn(must(coordination.NewVar(coordination.VarConfig{Store: lv.Store, Name: dtrain.DoneVar(spec.ID), Member: member})))
	if r, err := coordination.Call(lv.RT, runVar, coordination.SetVar{Data: data}, 10*time.Second); err != nil || r.(coordination.VarWritten).Err != nil {
		return fail(stderr, fmt.Errorf("writing the run: %v %v", err, r))
	}
	log.Info("run started: waiting for the rollout nodes (marlon node --rollouts)", "run", spec.ID, "algorithm", spec.Algorithm, "updates", spec.Updates, "min_nodes", *nodes, "per_node", *perNode)
	start := time.Now()
	var first time.Time // when the learner's first parameters were seen
	lastUpdate := -1
	var done dtrain.Done
	for {
		every := 250 * time.Millisecond
		if first.IsZero() {
			every = 20 * time.Millisecond // to time the run from its first epoch
		}
		select {
		case <-ctx.Done():
			return fail(stderr, fmt.Errorf("the run did not finish: %w (it goes on on the nodes; marlon train --run %s follows it again)", ctx.Err(), spec.ID))
		case <-time.After(every):
		}
		if r, err := coordination.Call(lv.RT, doneVar, coordination.GetVar{Level: coordination.Linearizable}, 5*time.Second); err == nil {
			if v := r.(coordination.VarValue); v.Err == nil {
				if done, err = dtrain.DecodeDone(v.Data); err != nil {
					return fail(stderr, fmt.Errorf("the run's outcome: %w", err))
				}
				break
			}
		}
		if r, err := coordination.Call(lv.RT, paramsVar, coordination.GetVar{Level: coordination.Eventual}, 5*time.Second); err == nil {
			if v := r.(coordination.VarValue); v.Err == nil {
				var p struct {
					Update   int `json:"update"`
					Episodes int `json:"episodes"`
				}
				if first.IsZero() {
					first = time.Now()
				}
				if json.Unmarshal(v.Data, &p) == nil && p.Update != lastUpdate {
					lastUpdate = p.Update
					con.setStatus(fmt.Sprintf("update %d/%d, %d episodes learnt (learner %s)", p.Update, spec.Updates, p.Episodes, v.Writer))
				}
			}
		}
	}
	wall := time.Since(start)
	if first.IsZero() {
		first = start
	}
	elapsed := time.Since(first)
	if done.ElapsedFrom == 0 && done.Elapsed > 0 { // the learner's own timing: finer than this command's polls
		elapsed = time.Duration(done.Elapsed * float64(time.Millisecond))
	}
	con.setStatus("")
	fetch, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	model, err := lv.Objects.GetBytes(fetch, done.Final)
	fcancel()
	if err != nil {
		return fail(stderr, fmt.Errorf("reading the final checkpoint %s: %w", done.Final, err))
	}
	ckpt, err := learning.ReadCheckpoint(bytes.NewReader(model))
	if err != nil {
		return fail(stderr, err)
	}
	opts := rf.options()
	opts.Episodes, opts.Load = 0, ckpt
	res, err := env.Run(e, spec.Algorithm, opts)
	if err != nil {
		return fail(stderr, err)
	}
	out := trainReport{Run: spec.ID, Env: spec.Env, Algorithm: spec.Algorithm, Seed: spec.Seed, Updates: done.Updates, Episodes: done.Episodes,
		SelectedAfter: done.Selected, Seconds: elapsed.Seconds(), WallSeconds: wall.Seconds(), EpisodesPerSecond: float64(done.Episodes) / elapsed.Seconds(),
		Stats: done.Stats, EvalEpisodes: rf.evalEpisodes, Mean: res.Mean}
	if rf.save != "" {
		if err := ckpt.Save(rf.save); err != nil {
			return fail(stderr, fmt.Errorf("--save: %w", err))
		}
		out.Checkpoint = rf.save
	}
	if *single {
		o := rf.options()
		o.Episodes = done.Episodes
		t0 := time.Now()
		r, err := env.Run(e, spec.Algorithm, o)
		if err != nil {
			return fail(stderr, err)
		}
		secs := r.TrainTime.Seconds()
		out.Single = &singleReport{Episodes: o.Episodes, SelectedAfter: r.Curve.Selected, Seconds: secs, EpisodesPerSecond: float64(o.Episodes) / secs, Mean: r.Mean, Wall: time.Since(t0).Seconds()}
	}
	if rf.jsonOut {
		writeJSON(stdout, out)
		return 0
	}
	printTrainReport(stdout, out)
	return 0
}

// must is for constructors whose configuration the code fixes.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type trainReport struct {
	Run               string             `json:"run"`
	Env               string             `json:"env"`
	Algorithm         string             `json:"algorithm"`
	Seed              uint64             `json:"seed"`
	Updates           int                `json:"updates"`
	Episodes          int                `json:"episodes"`
	SelectedAfter     int                `json:"selected_after"`
	Seconds           float64            `json:"seconds"`      // from the first epoch to the end
	WallSeconds       float64            `json:"wall_seconds"` // from the start of the command (nodes joining, election)
	EpisodesPerSecond float64            `json:"episodes_per_second"`
	Stats             dtrain.Stats       `json:"experience"`
	EvalEpisodes      int                `json:"eval_episodes"`
	Mean              map[string]float64 `json:"mean"`
	Checkpoint        string             `json:"checkpoint,omitempty"`
	Single            *singleReport      `json:"single_process,omitempty"`
}

type singleReport struct {
	Episodes          int                `json:"episodes"`
	SelectedAfter     int                `json:"selected_after"`
	Seconds           float64            `json:"seconds"`
	EpisodesPerSecond float64            `json:"episodes_per_second"`
	Wall              float64            `json:"wall_seconds"`
	Mean              map[string]float64 `json:"mean"`
}

func printTrainReport(w io.Writer, r trainReport) {
	fmt.Fprintf(w, "Distributed training: %s on %s, seed %d, run %s.\n", r.Algorithm, r.Env, r.Seed, r.Run)
	fmt.Fprintf(w, "%d updates, %d episodes in %.1fs from the first epoch (%.1f episodes/s; %.1fs with the nodes joining); kept the models after %d episodes.\n",
		r.Updates, r.Episodes, r.Seconds, r.EpisodesPerSecond, r.WallSeconds, r.SelectedAfter)
	per := 0.0
	if r.Stats.Messages > 0 {
		per = float64(r.Stats.AgentEpisodes) / float64(r.Stats.Messages)
	}
	fmt.Fprintf(w, "Experience: %d messages to the learner (%d bytes), carrying %d agent-episodes (%.1f each, aggregated by each node's coordinator); at most %d per update.\n\n",
		r.Stats.Messages, r.Stats.Bytes, r.Stats.AgentEpisodes, per, r.Stats.MaxIn)
	names := make([]string, 0, len(r.Mean))
	for k := range r.Mean {
		names = append(names, k)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "metric\tdistributed\t"
	if r.Single != nil {
		head += "single-process\t"
	}
	fmt.Fprintln(tw, head)
	for _, k := range names {
		line := fmt.Sprintf("%s\t%.4g\t", k, r.Mean[k])
		if r.Single != nil {
			line += fmt.Sprintf("%.4g\t", r.Single.Mean[k])
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nMeans over the same %d evaluation episodes, greedy.\n", r.EvalEpisodes)
	if s := r.Single; s != nil {
		fmt.Fprintf(w, "Single-process: %d episodes in %.1fs (%.1f episodes/s), kept after %d; distributed ran at %.2fx its episodes/s.\n",
			s.Episodes, s.Seconds, s.EpisodesPerSecond, s.SelectedAfter, r.EpisodesPerSecond/s.EpisodesPerSecond)
	}
	if r.Checkpoint != "" {
		fmt.Fprintf(w, "Saved the trained models to %s.\n", r.Checkpoint)
	}
}

// runRolloutNode is marlon node --rollouts: a member of distributed
// training until interrupted (or, with --exit-after-run, until the first
// run it takes part in is over).
func runRolloutNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("marlon node --rollouts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("rollouts", true, "be a rollout node and learner candidate of distributed training (marlon train)")
	var jf jsFlags
	jf.register(fs)
	var (
		name     = fs.String("name", "", "this node's name: 1 to 64 letters, digits, '-' or '_' (required)")
		lease    = fs.Duration("lease", 3*time.Second, "the learner's lease: another node takes over about this long after the learner dies (at least 1s)")
		presence = fs.Duration("presence", 3*time.Second, "a rollout node silent for this long no longer holds up an epoch (at least 1s)")
		once     = fs.Bool("exit-after-run", false, "exit when the first run this node takes part in is over")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marlon node --rollouts --nats URL --name NAME [flags]\n\nJoins distributed training as a rollout node and learner candidate: it\ntakes part in every run marlon train starts on the same NATS servers,\nrunning the episodes the learner assigns it and, when elected, learning.\n\nFlags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), trainExamples)
	}
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if err := jf.check(); err != nil {
		return fail(stderr, err)
	}
	switch {
	case !validNodeName(*name):
		return fail(stderr, usageError{fmt.Errorf("--name: 1 to 64 letters, digits, '-' or '_', got %q", *name)})
	case *lease < time.Second:
		return fail(stderr, usageError{fmt.Errorf("--lease: at least 1s (JetStream's TTLs have a resolution of a second), got %v", *lease)})
	case *presence < time.Second:
		return fail(stderr, usageError{fmt.Errorf("--presence: at least 1s, got %v", *presence)})
	}
	log := newConsole(stderr).logger(slog.LevelInfo)
	ctx, stop := signalled()
	defer stop()
	nc, err := jf.connect("marlon node " + *name)
	if err != nil {
		return fail(stderr, err)
	}
	defer nc.Close()
	lv, err := jf.start(ctx, *name, nc, log)
	if err != nil {
		return fail(stderr, fmt.Errorf("--nats: %w", err))
	}
	defer lv.RT.Close()
	finished := make(chan struct{}, 1)
	ms := func(d time.Duration) float64 { return float64(d / time.Millisecond) }
	logger := lv.RT.Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		switch m := msg.(type) {
		case dtrain.RunStarted:
			if m.Err != nil {
				log.Error("cannot take part in the run", "run", m.Spec.ID, "err", m.Err)
			} else {
				log.Info("run joined", "run", m.Spec.ID, "algorithm", m.Spec.Algorithm, "env", m.Spec.Env, "updates", m.Spec.Updates)
			}
		case dtrain.Progress:
			if m.Resumed {
				log.Info("learner: elected; resuming", "term", m.Term, "from_update", m.Update, "episodes", m.Episodes)
			} else {
				log.Info("learner: update", "term", m.Term, "update", m.Update, "episodes", m.Episodes, "from", strings.Join(m.From, ","), "missing", strings.Join(m.Missing, ","))
			}
		case dtrain.Warning:
			log.Warn(m.Err.Error())
		case dtrain.Finished:
			if m.Err != nil {
				log.Error("run failed on this node", "err", m.Err)
			} else {
				log.Info("run over", "updates", m.Done.Updates, "episodes", m.Done.Episodes, "final", m.Done.Final)
			}
			select {
			case finished <- struct{}{}:
			default:
			}
		}
	}))
	node, err := dtrain.NewNode(dtrain.NodeConfig{Member: *name, Store: lv.Store, Blobs: lv.Blobs, NewEnv: newTrainEnv, Owner: logger,
		Timing: dtrain.Timing{LeaseTTL: ms(*lease), PresenceTTL: ms(*presence)}})
	if err != nil {
		return fail(stderr, err)
	}
	lv.RT.Spawn(node)
	log.Info("rollout node up: waiting for runs (marlon train)", "node", *name, "nats", jf.nats, "replicas", jf.replicas)
	for {
		select {
		case <-ctx.Done():
			log.Info("rollout node down", "node", *name)
			return 0
		case <-finished:
			if *once {
				return 0
			}
		}
	}
}

func validNodeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
