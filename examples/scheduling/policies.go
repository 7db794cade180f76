package scheduling

import "github.com/marlon-go/marlon/learning"

// HeuristicPolicy is the seed's competitive bidding: every node that can
// fit the job bids (Bid) with its multi-factor score, and the best score
// wins. It is what a node does without an agent, and what the baseline
// "fixed:bid" of the learners' action space does too.
func HeuristicPolicy() learning.Policy { return heuristic{} }

type heuristic struct{}

func (heuristic) Name() string                                         { return "bidding" }
func (heuristic) NewAgent(learning.AgentID) learning.LearningAlgorithm { return &heuristicAgent{} }

type heuristicAgent struct{ mask []bool }

func (a *heuristicAgent) InitAgent(obs learning.Observation)         { a.mask = obs.Mask }
func (a *heuristicAgent) Update(obs learning.Observation, _ float64) { a.mask = obs.Mask }
func (a *heuristicAgent) IsLearning() bool                           { return false }
func (a *heuristicAgent) AgentJoined(learning.AgentID)               {}
func (a *heuristicAgent) AgentLeft(learning.AgentID)                 {}

func (a *heuristicAgent) SampleAction() learning.Action {
	if a.mask == nil || a.mask[Bid] {
		return learning.Action(Bid)
	}
	for i, ok := range a.mask {
		if ok {
			return learning.Action(i)
		}
	}
	return learning.Action(Decline)
}

func (a *heuristicAgent) ActionProbabilities() []float64 {
	p := make([]float64, len(Levels))
	p[a.SampleAction()] = 1
	return p
}

// ReservePolicy is competitive bidding with a reservation kept by the
// bidders: a node declines a job that would delay the earliest start, on
// this node, of the oldest waiting job (the observation's delays_head:
// EASY's test, each node for itself, by the requested times of what it
// runs), if it may decline (it runs something); otherwise it bids as the
// heuristic does. Where central EASY protects the head on the one node of
// its reservation, every node that could hold the head protects it here.
func ReservePolicy() learning.Policy { return reservePolicy{} }

type reservePolicy struct{}

func (reservePolicy) Name() string                                         { return "bidding-reserve" }
func (reservePolicy) NewAgent(learning.AgentID) learning.LearningAlgorithm { return &reserveAgent{} }

type reserveAgent struct{ obs learning.Observation }

var iDelaysHead = Schema.Index(FieldDelaysHead)

func (a *reserveAgent) InitAgent(obs learning.Observation)         { a.obs = obs }
func (a *reserveAgent) Update(obs learning.Observation, _ float64) { a.obs = obs }
func (a *reserveAgent) IsLearning() bool                           { return false }
func (a *reserveAgent) AgentJoined(learning.AgentID)               {}
func (a *reserveAgent) AgentLeft(learning.AgentID)                 {}

func (a *reserveAgent) SampleAction() learning.Action {
	m := a.obs.Mask
	if a.obs.Values != nil && a.obs.Values[iDelaysHead] == 1 && (m == nil || m[Decline]) {
		return learning.Action(Decline)
	}
	h := heuristicAgent{mask: m}
	return h.SampleAction()
}

func (a *reserveAgent) ActionProbabilities() []float64 {
	p := make([]float64, len(Levels))
	p[a.SampleAction()] = 1
	return p
}
