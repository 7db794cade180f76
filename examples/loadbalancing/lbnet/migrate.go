package lbnet

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/env"
	"github.com/marlon-go/marlon/env/hosting"
	lb "github.com/marlon-go/marlon/examples/loadbalancing"
)

// Migration asks a live run to move worker Worker, with its agent and the
// chunk it holds, to hosting node Node at time At of the episode (seed
// 001's agent migration, loadbalancing.Migrate). The worker keeps its
// speed: a node's slot bounds how many workers it hosts, the speed is the
// worker's own. A worker waiting for the Master when its move is due moves
// once it is granted a chunk.
type Migration struct {
	Worker int     `json:"worker"`
	At     float64 `json:"at"`
	Node   string  `json:"node"`
}

// ParseMigration reads WORKER@TIME:NODE (the CLI's --migrate).
func ParseMigration(v string) (Migration, error) {
	wt, node, ok := strings.Cut(v, ":")
	if !ok || node == "" {
		return Migration{}, env.Bad("migrate", "must be WORKER@TIME:NODE, e.g. 3@200:n2 (workers are numbered from 0)", v)
	}
	l, err := lb.ParseLeave(wt)
	if err != nil {
		return Migration{}, env.Bad("migrate", "must be WORKER@TIME:NODE, WORKER an integer >= 0 and TIME a number >= 0", v)
	}
	return Migration{Worker: l.Worker, At: l.At, Node: node}, nil
}

// Check validates a migration of a run with workers workers.
func (m Migration) Check(workers int) error {
	switch {
	case m.Worker < 0 || m.Worker >= workers:
		return fmt.Errorf("migration of worker %d: there are workers 0 to %d", m.Worker, workers-1)
	case !(m.At >= 0) || math.IsInf(m.At, 0):
		return fmt.Errorf("migration of worker %d: the time must be a finite number >= 0, got %v", m.Worker, m.At)
	case m.Node == "":
		return fmt.Errorf("migration of worker %d: no node", m.Worker)
	}
	return nil
}

// MigrationRecord is what became of a Migration: From is the node the
// worker left (empty if it never asked to be adopted: it had ended, say),
// Adopted whether a worker was started from its state on Node, and Err why
// not. A worker adopted moves on once the Master, the roster and the
// director know (Result.Placed's MovedFrom); one whose move went wrong in a
// way that leaves it unknown whether it runs on Node gives up and leaves
// (see loadbalancing.Migrate).
type MigrationRecord struct {
	Migration
	From    string `json:"from,omitempty"`
	Adopted bool   `json:"adopted"`
	Err     string `json:"error,omitempty"`
}

// migrations is a run's record of its migrations, written by its actors and
// read when the run is over.
type migrations struct {
	mu      sync.Mutex
	records []MigrationRecord
}

func (r *migrations) asked(m Migration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, MigrationRecord{Migration: m})
}

// answered records the outcome of worker id's latest move to node.
func (r *migrations) answered(id int, node, from string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.records) - 1; i >= 0; i-- {
		if x := &r.records[i]; x.Worker == id && x.Node == node && x.From == "" {
			x.From, x.Adopted = from, err == nil
			if err != nil {
				x.Err = err.Error()
			}
			return
		}
	}
}

func (r *migrations) list() []MigrationRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]MigrationRecord(nil), r.records...)
	for i := range out {
		if out[i].From == "" && out[i].Err == "" {
			out[i].Err = "the worker did not ask to move: it had ended, held no chunk again before the end, or its agent's state cannot move (its algorithm is not learning.Migratable)"
		}
	}
	return out
}

// adopter, on the master's node, adopts migrating workers onto node: it
// has the placer place each on that node, with its state, in any free
// slot.
type adopter struct {
	node    string
	placer  actors.Addr
	timeout float64 // of the placement, in the run's units
	record  *migrations
}

func (a *adopter) Receive(ctx actors.Context, msg any) {
	m, ok := msg.(lb.Adopt)
	if !ok {
		return
	}
	to, id, from := ctx.ReplyTo(), m.State.Spec.ID, m.State.From.Node
	args, err := json.Marshal(placeArgs{Spec: m.State.Spec, State: &m.State})
	if err != nil {
		a.record.answered(id, a.node, from, err)
		ctx.Reply(to, lb.Adopted{Err: err.Error()})
		return
	}
	ctx.Request(a.placer, hosting.Place{Node: a.node, Args: args, At: ctx.Now()}, a.timeout, func(ctx actors.Context, reply any, err error) {
		w, err := hosting.Placement(reply, err)
		a.record.answered(id, a.node, from, err)
		if err != nil {
			ctx.Reply(to, lb.Adopted{Err: err.Error()})
			return
		}
		ctx.Reply(to, lb.Adopted{Worker: w})
	})
}

// mover sends the director the run's migrations when they are due, each
// to the adopter of its node.
type mover struct {
	moves    []Migration
	director actors.Addr
	adopters map[string]actors.Addr
	timeout  float64 // of the workers' Adopt requests, in the run's units
	record   *migrations
}

type moveDue struct{ i int }

func (m *mover) Receive(ctx actors.Context, msg any) {
	switch x := msg.(type) {
	case actors.Started:
		for i, mv := range m.moves {
			ctx.After(max(0, mv.At-ctx.Now()), moveDue{i})
		}
	case moveDue:
		mv := m.moves[x.i]
		m.record.asked(mv)
		ctx.Send(m.director, lb.MoveWorker{ID: mv.Worker, Host: m.adopters[mv.Node], Timeout: m.timeout})
	}
}
