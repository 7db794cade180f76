package env

import (
	"fmt"
	"sort"
	"sync"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/learning"
)

// Agent binds a LearningAlgorithm to the actor that carries it. The actor
// calls Act whenever it must choose, with what it observes and the reward
// its previous choice earned, and Finish when its episode ends; Agent turns
// that into the InitAgent / Update / SampleAction sequence of the
// LearningAlgorithm contract. A nil *Agent is valid, for actors that run
// without an agent: Act reports that there is no choice (the actor then
// does what it does without an agent), and the other methods do nothing.
type Agent struct {
	ID  learning.AgentID
	Alg learning.LearningAlgorithm

	started  bool
	finished bool
	steps    int
	ret      float64
}

// Attach returns the binding of alg to agent id, or nil if alg is nil.
func Attach(id learning.AgentID, alg learning.LearningAlgorithm) *Agent {
	if alg == nil {
		return nil
	}
	return &Agent{ID: id, Alg: alg}
}

// Act reports the observation (and, after the first call, the reward for the
// previous action) and returns the action to take, and true; on a nil Agent
// it returns false.
func (a *Agent) Act(obs learning.Observation, reward float64) (learning.Action, bool) {
	if a == nil {
		return 0, false
	}
	if !a.started {
		a.started = true
		a.Alg.InitAgent(obs)
	} else {
		a.Alg.Update(obs, reward)
		a.ret += reward
	}
	a.steps++
	return a.Alg.SampleAction(), true
}

// Finish gives the last reward with a terminal observation. It does nothing
// if the agent never acted or has finished already.
func (a *Agent) Finish(obs learning.Observation, reward float64) {
	if a == nil || !a.started || a.finished {
		return
	}
	a.finished = true
	obs.Terminal = true
	a.Alg.Update(obs, reward)
	a.ret += reward
}

// Steps is the number of actions taken this episode (0 on a nil Agent).
func (a *Agent) Steps() int {
	if a == nil {
		return 0
	}
	return a.steps
}

// Return is the sum of the rewards given so far (0 on a nil Agent).
func (a *Agent) Return() float64 {
	if a == nil {
		return 0
	}
	return a.ret
}

// Listens reports whether the agent's algorithm is to be told of other
// agents joining and leaving (see learning.MembershipUser). A nil agent does
// not listen.
func (a *Agent) Listens() bool { return a != nil && learning.UsesMembership(a.Alg) }

// Join is sent to the Roster by an actor that carries agent ID.
type Join struct {
	ID learning.AgentID
	// Deaf says that the agent is not to be told of the others (its
	// algorithm does not use AgentJoined and AgentLeft, or the actor runs
	// without one): the Roster then sends it nothing. The zero value, as
	// the LearningAlgorithm contract says, tells it of every join and leave.
	Deaf bool
}

// JoinOf is the Join the actor carrying agent a (nil: none) sends for id.
func JoinOf(id learning.AgentID, a *Agent) Join { return Join{ID: id, Deaf: !a.Listens()} }

// Joined tells a live agent's actor that agent ID has joined.
type Joined struct{ ID learning.AgentID }

// Left tells a live agent's actor that agent ID has left.
type Left struct{ ID learning.AgentID }

// Handle passes a Joined or Left message on to the algorithm and reports
// whether msg was one of them. Actors call it first in their handler.
func (a *Agent) Handle(msg any) bool {
	switch m := msg.(type) {
	case Joined:
		if a != nil && m.ID != a.ID {
			a.Alg.AgentJoined(m.ID)
		}
		return true
	case Left:
		if a != nil && m.ID != a.ID {
			a.Alg.AgentLeft(m.ID)
		}
		return true
	}
	return false
}

// Roster is the actor that keeps the set of live agents. An actor carrying
// an agent sends it Join when it starts; the Roster watches it, tells it who
// is already there and tells every listening agent already there that it
// joined; when the actor stops, crashes or its node fails, the Roster tells
// the listening agents that it left. Because it works from Down messages, a
// worker on a machine that dies leaves the same way as one that is stopped.
//
// An agent that joins Deaf is told nothing. A join or leave then costs O(1)
// plus one message per listening agent: with L listeners among P agents, an
// episode's joins cost O(P + L*P) messages. Telling P listening agents of
// each other is P^2 messages by the nature of the contract; agents whose
// algorithms ignore membership should say so (learning.MembershipUser).
// Messages go out in join order, so a run is reproducible.
type Roster struct {
	live      map[actors.Addr]*rosterEntry
	all       rosterList // every live agent, in join order
	listeners rosterList // the listening ones, in join order
	seen      *Membership
}

type rosterEntry struct {
	addr    actors.Addr
	id      learning.AgentID
	listens bool
	all     rosterLinks
	lis     rosterLinks
}

type rosterLinks struct{ prev, next *rosterEntry }

// rosterList is an intrusive doubly linked list of entries, through the
// links that at selects: O(1) append and removal, in order.
type rosterList struct {
	head, tail *rosterEntry
	at         func(*rosterEntry) *rosterLinks
}

func (l *rosterList) push(e *rosterEntry) {
	l.at(e).prev = l.tail
	if l.tail != nil {
		l.at(l.tail).next = e
	} else {
		l.head = e
	}
	l.tail = e
}

func (l *rosterList) remove(e *rosterEntry) {
	k := l.at(e)
	if k.prev != nil {
		l.at(k.prev).next = k.next
	} else {
		l.head = k.next
	}
	if k.next != nil {
		l.at(k.next).prev = k.prev
	} else {
		l.tail = k.prev
	}
	*k = rosterLinks{}
}

func (l *rosterList) each(f func(*rosterEntry)) {
	for e := l.head; e != nil; e = l.at(e).next {
		f(e)
	}
}

// NewRoster returns a Roster that mirrors the live set into m (may be nil) so
// that code outside the actors can read it.
func NewRoster(m *Membership) *Roster {
	return &Roster{
		live:      map[actors.Addr]*rosterEntry{},
		all:       rosterList{at: func(e *rosterEntry) *rosterLinks { return &e.all }},
		listeners: rosterList{at: func(e *rosterEntry) *rosterLinks { return &e.lis }},
		seen:      m,
	}
}

// Receive implements actors.Actor.
func (r *Roster) Receive(ctx actors.Context, msg any) {
	switch m := msg.(type) {
	case Join:
		from := ctx.Sender()
		if _, dup := r.live[from]; dup {
			return
		}
		e := &rosterEntry{addr: from, id: m.ID, listens: !m.Deaf}
		if e.listens {
			// It is told of everyone, and everyone listening of it, in
			// join order.
			r.all.each(func(a *rosterEntry) {
				if a.listens {
					ctx.Send(a.addr, Joined{ID: m.ID})
				}
				ctx.Send(from, Joined{ID: a.id})
			})
		} else {
			r.listeners.each(func(a *rosterEntry) { ctx.Send(a.addr, Joined{ID: m.ID}) })
		}
		r.live[from] = e
		r.all.push(e)
		if e.listens {
			r.listeners.push(e)
		}
		ctx.Watch(from)
		r.seen.set(m.ID, true)
	case Moved:
		if e, ok := r.live[m.From]; ok {
			delete(r.live, m.From)
			e.addr = ctx.Sender()
			r.live[e.addr] = e
			ctx.Unwatch(m.From)
			ctx.Watch(e.addr)
		}
		ctx.Reply(ctx.ReplyTo(), m)
	case actors.Down:
		e, ok := r.live[m.Actor]
		if !ok {
			return
		}
		delete(r.live, m.Actor)
		r.all.remove(e)
		if e.listens {
			r.listeners.remove(e)
		}
		r.listeners.each(func(a *rosterEntry) { ctx.Send(a.addr, Left{ID: e.id}) })
		r.seen.set(e.id, false)
	}
}

// Membership is a thread-safe mirror of a Roster's live agents, with the
// count of joins and leaves, for code outside the actors.
type Membership struct {
	mu       sync.Mutex
	live     map[learning.AgentID]bool
	joins    int
	leaves   int
	onChange func()
}

// OnChange makes f be called after every join and leave (from the Roster's
// turn: f must not block). An episode whose end depends on its agents being
// gone uses it to notice without polling.
func (m *Membership) OnChange(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onChange = f
}

func (m *Membership) set(id learning.AgentID, live bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	f := m.onChange
	defer func() {
		if f != nil {
			f()
		}
	}()
	defer m.mu.Unlock()
	if m.live == nil {
		m.live = map[learning.AgentID]bool{}
	}
	if live {
		m.live[id] = true
		m.joins++
	} else {
		delete(m.live, id)
		m.leaves++
		if len(m.live) == 0 {
			m.live = nil // a map keeps its room when emptied: an ended episode's is P entries' worth
		}
	}
}

// Count is the number of live agents.
func (m *Membership) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.live)
}

// Live returns the live agents, sorted.
func (m *Membership) Live() []learning.AgentID {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]learning.AgentID, 0, len(m.live))
	for id := range m.live {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Counts returns how many joins and leaves the Roster has seen.
func (m *Membership) Counts() (joins, leaves int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.joins, m.leaves
}

// AgentState is an Agent's state in its episode, for moving the actor that
// carries it to another node (seed 001's agent migration): where the
// binding is (started, finished, steps, return) and its LearningAlgorithm's
// own state (learning.Migratable; nil for one that keeps none, a fixed
// heuristic say).
type AgentState struct {
	Started  bool    `json:"started,omitempty"`
	Finished bool    `json:"finished,omitempty"`
	Steps    int     `json:"steps"`
	Return   float64 `json:"return"`
	Learner  []byte  `json:"learner,omitempty"`
}

// State captures the agent's state; an error says its LearningAlgorithm
// keeps state it cannot give. A nil Agent has the zero state.
func (a *Agent) State() (AgentState, error) {
	if a == nil {
		return AgentState{}, nil
	}
	s := AgentState{Started: a.started, Finished: a.finished, Steps: a.steps, Return: a.ret}
	if m, ok := a.Alg.(learning.Migratable); ok {
		b, err := m.MarshalAgent()
		if err != nil {
			return s, err
		}
		s.Learner = b
	}
	return s, nil
}

// Restore gives the agent (a binding made on the node the actor moved to,
// for the same ID) the state State captured, so that it continues where
// the original stopped.
func (a *Agent) Restore(s AgentState) error {
	if a == nil {
		return nil
	}
	if s.Learner != nil {
		m, ok := a.Alg.(learning.Migratable)
		if !ok {
			return fmt.Errorf("env: agent %s: its LearningAlgorithm cannot take a migrated agent's state", a.ID)
		}
		if err := m.UnmarshalAgent(s.Learner); err != nil {
			return err
		}
	}
	a.started, a.finished, a.steps, a.ret = s.Started, s.Finished, s.Steps, s.Return
	return nil
}

// Moved, a request to a Roster, says that the agent whose actor was at
// From now runs at the sender (it migrated): the roster watches the new
// address instead, and tells nobody (the agent neither left nor joined).
// Reply: Moved.
type Moved struct{ From actors.Addr }
