package dls

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/marlon-go/marlon/learning"
)

// Technique names a self-scheduling technique.
type Technique string

// The techniques, by the names the CLI uses.
const (
	STATIC Technique = "static"
	SS     Technique = "ss"
	FSC    Technique = "fsc"
	MFSC   Technique = "mfsc"
	GSS    Technique = "gss"
	TSS    Technique = "tss"
	FAC2   Technique = "fac2"
	WF     Technique = "wf"
	AWFB   Technique = "awf-b"
	AWFC   Technique = "awf-c"
	AF     Technique = "af"
)

// Techniques returns every technique, from the simplest to the adaptive ones.
func Techniques() []Technique {
	return []Technique{STATIC, SS, FSC, MFSC, GSS, TSS, FAC2, WF, AWFB, AWFC, AF}
}

// Positions of the fields in Fields.
const (
	fJob = iota
	fRemaining
	fWorkers
	fGranted
	fCommTime
	fUnitTime
	fSpeed
	fSpeedSum
	fMu
	fMeasured
	fInvMuSum
	fDSum
	numFields
)

// Fields are the observation fields the policies read; the package doc says
// what each means.
var Fields = []string{
	fJob:       "job",
	fRemaining: "remaining",
	fWorkers:   "workers",
	fGranted:   "granted",
	fCommTime:  "comm_time",
	fUnitTime:  "unit_time",
	fSpeed:     "speed",
	fSpeedSum:  "speed_sum",
	fMu:        "mu",
	fMeasured:  "measured",
	fInvMuSum:  "inv_mu_sum",
	fDSum:      "d_sum",
}

// An Option configures a Policy.
type Option func(*Policy)

// WithCV gives the a priori coefficient of variation of a unit's cost, from
// which FSC derives its sigma (the other techniques ignore it). Without it
// FSC assumes no variation and its chunk is the static ceil(N/P).
func WithCV(cv float64) Option { return func(p *Policy) { p.cv = cv } }

// Policy is one technique, shared by the agents of all the workers of an
// episode. It is safe for concurrent use.
type Policy struct {
	technique Technique
	cv        float64
	actions   learning.ActionSpace
	index     [numFields]int // position of each of Fields in an observation

	lock sync.Mutex
	ep   episode
}

var (
	_ learning.Policy   = (*Policy)(nil)
	_ learning.Episodic = (*Policy)(nil)
)

// New returns the policy of technique t for an environment described by spec.
// It fails if t is unknown, if spec's observations lack a field of Fields or
// if spec's action space is empty.
func New(t Technique, spec learning.Spec, opts ...Option) (*Policy, error) {
	known := false
	names := make([]string, 0, len(Techniques()))
	for _, k := range Techniques() {
		known = known || k == t
		names = append(names, string(k))
	}
	switch {
	case !known:
		return nil, fmt.Errorf("dls: unknown technique %q (allowed: %s)", t, strings.Join(names, ", "))
	case spec.Observation == nil:
		return nil, fmt.Errorf("dls: %s: the spec has no observation schema", t)
	case spec.Actions.N < 1:
		return nil, fmt.Errorf("dls: %s: the action space must have at least one action, got N = %d", t, spec.Actions.N)
	}
	if err := spec.Observation.Require(Fields...); err != nil {
		return nil, fmt.Errorf("dls: %s: %w", t, err)
	}
	p := &Policy{technique: t, actions: spec.Actions}
	for _, o := range opts {
		o(p)
	}
	if !(p.cv >= 0) || math.IsInf(p.cv, 1) {
		return nil, fmt.Errorf("dls: %s: the coefficient of variation must be a finite number >= 0, got %v", t, p.cv)
	}
	for i, f := range Fields {
		p.index[i] = spec.Observation.Index(f)
	}
	return p, nil
}

// Name implements learning.Policy: the technique's name.
func (p *Policy) Name() string { return string(p.technique) }

// NewAgent implements learning.Policy.
func (p *Policy) NewAgent(learning.AgentID) learning.LearningAlgorithm { return &agent{p: p} }

// BeginEpisode implements learning.Episodic: it forgets the batches and
// fixed chunk sizes of the last episode.
func (p *Policy) BeginEpisode() {
	p.lock.Lock()
	defer p.lock.Unlock()
	p.ep.reset()
}

// EndEpisode implements learning.Episodic.
func (p *Policy) EndEpisode() {}

// agent is one worker's handle on the shared Policy. Its fields are guarded
// by the Policy's lock.
type agent struct {
	p   *Policy
	obs []float64 // the latest observation's values
	// For AWF-B: the batch (Policy.ep.batches) current when obs was
	// recorded, and mu as of the last observation recorded in an earlier
	// batch.
	batch  uint64
	prevMu float64
}

func (a *agent) InitAgent(obs learning.Observation) {
	a.p.lock.Lock()
	defer a.p.lock.Unlock()
	a.obs, a.prevMu = nil, 0
	a.record(obs)
}

func (a *agent) Update(obs learning.Observation, _ float64) {
	a.p.lock.Lock()
	defer a.p.lock.Unlock()
	a.record(obs)
}

func (a *agent) record(obs learning.Observation) {
	if a.obs != nil && a.batch != a.p.ep.batches {
		a.prevMu = a.mu()
	}
	a.batch = a.p.ep.batches
	a.obs = append(a.obs[:0], obs.Values...)
}

func (a *agent) mu() float64 { return a.obs[a.p.index[fMu]] }

// muAt is the agent's mu as last seen before the batch numbered serial
// started.
func (a *agent) muAt(serial uint64) float64 {
	if a.batch < serial {
		return a.mu()
	}
	return a.prevMu
}

func (a *agent) IsLearning() bool { return false }

// SampleAction returns the chunk size for the latest observation.
func (a *agent) SampleAction() learning.Action {
	a.p.lock.Lock()
	defer a.p.lock.Unlock()
	return a.p.decide(&a.p.ep, a)
}

// ActionProbabilities is one-hot at the chunk SampleAction would return; it
// changes no state.
func (a *agent) ActionProbabilities() []float64 {
	a.p.lock.Lock()
	defer a.p.lock.Unlock()
	ep := a.p.ep
	probs := make([]float64, a.p.actions.N)
	probs[a.p.actions.Index(a.p.decide(&ep, a))] = 1
	return probs
}

func (a *agent) AgentJoined(learning.AgentID) {}
func (a *agent) AgentLeft(learning.AgentID)   {}

// UsesMembership implements learning.MembershipUser: a technique reads the
// live workers from its observations, not from AgentJoined and AgentLeft.
func (a *agent) UsesMembership() bool { return false }
