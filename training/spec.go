package training

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Spec is a training run: what to train, how, and for how long. The command
// that starts a run writes it to the run variable (RunVar); every node
// reads it there and makes the same environment and policies from it.
type Spec struct {
	// ID names the run: 1 to 40 letters, digits, '-' or '_'; its keys
	// and blobs carry it.
	ID string `json:"id"`
	// Env is the environment's name with its version ("loadbalancing/v1")
	// and Scenario its own description (for Config.NewEnv), opaque here.
	Env      string          `json:"env"`
	Scenario json.RawMessage `json:"scenario,omitempty"`
	// Algorithm, Actions (the adapter) and Independent as env.RunOptions
	// have them; Seed seeds the policies and every episode.
	Algorithm   string `json:"algorithm"`
	Actions     string `json:"actions,omitempty"`
	Independent bool   `json:"independent,omitempty"`
	Seed        uint64 `json:"seed"`
	// Updates is the number of updates the learner makes (each one
	// publishes new parameters); PerNode the episodes each rollout node
	// runs per update.
	Updates int `json:"updates"`
	PerNode int `json:"per_node"`
	// MinNodes is how many rollout nodes the learner waits for before the
	// run's first epoch (0 or 1: none); later ones join at the next epoch.
	MinNodes int `json:"min_nodes,omitempty"`
	// CheckpointEvery: a checkpoint goes to the object store every this
	// many updates, and after the last.
	CheckpointEvery int `json:"checkpoint_every"`
	// EvalEvery, EvalEpisodes and Select: the learner validates its
	// policies greedily whenever the episodes it has learnt from pass a
	// multiple of EvalEvery (0: only at the end, with Select), on
	// EvalEpisodes validation episodes, and keeps the models that did best
	// by the metric Select (as learning.TrainConfig does).
	EvalEvery    int    `json:"eval_every,omitempty"`
	EvalEpisodes int    `json:"eval_episodes"`
	Select       string `json:"select,omitempty"`
	// EpochTimeout bounds an epoch's barrier, in virtual time units (the
	// live runtime's milliseconds): the learner updates with the rollouts
	// that arrived.
	EpochTimeout float64 `json:"epoch_timeout"`
}

// Check reports the first field out of range.
func (s Spec) Check() error {
	switch {
	case !validID(s.ID):
		return fmt.Errorf("training: run ID %q: want 1 to 40 letters, digits, '-' or '_'", s.ID)
	case s.Env == "" || s.Algorithm == "":
		return errors.New("training: the run needs an environment and an algorithm")
	case s.Updates < 1:
		return fmt.Errorf("training: Updates = %d, want at least 1", s.Updates)
	case s.PerNode < 1:
		return fmt.Errorf("training: PerNode = %d, want at least 1", s.PerNode)
	case s.MinNodes < 0:
		return fmt.Errorf("training: MinNodes = %d, want at least 0", s.MinNodes)
	case s.CheckpointEvery < 1:
		return fmt.Errorf("training: CheckpointEvery = %d, want at least 1", s.CheckpointEvery)
	case s.EvalEvery < 0:
		return fmt.Errorf("training: EvalEvery = %d, want at least 0", s.EvalEvery)
	case s.EvalEpisodes < 1:
		return fmt.Errorf("training: EvalEpisodes = %d, want at least 1", s.EvalEpisodes)
	case !(s.EpochTimeout > 0) || math.IsInf(s.EpochTimeout, 0):
		return fmt.Errorf("training: EpochTimeout = %v, want a finite time > 0", s.EpochTimeout)
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 40 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Names of the run's variables, keys and blobs.
const (
	// RunVar is the variable holding the current run's Spec.
	RunVar = "training-run"
)

func paramsVar(id string) string { return "params-" + id }

// ParamsVar is the name of run id's params variable (Params).
func ParamsVar(id string) string { return paramsVar(id) }
func ckptVar(id string) string   { return "ckpt-" + id }
func doneVar(id string) string   { return "done-" + id }
func learnerRole(id string) string {
	return "learner-" + id
}
func groupOf(id string) string { return "rollouts-" + id }
func expKey(id string, rev uint64, node string) string {
	return fmt.Sprintf("exp.%s.%d.%s", id, rev, node)
}
func barrierOf(id string, rev uint64) string { return fmt.Sprintf("epoch-%s-%d", id, rev) }

// Params is what the learner publishes after every update (the params
// variable, written with its Fence): the model, and the next epoch's
// assignment.
type Params struct {
	// Update is the number of updates made so far.
	Update int `json:"update"`
	// Episodes is the number of episodes learnt from so far; Next the
	// first episode number of the next epoch.
	Episodes int `json:"episodes"`
	Next     int `json:"next"`
	// Nodes are the rollout nodes of the next epoch, in order: node i runs
	// episodes Next + i*PerNode to Next + (i+1)*PerNode - 1.
	Nodes []string `json:"nodes"`
	// Model is the team's checkpoint (learning.Checkpoint), inline, or
	// Blob names the object that holds it when it is too large for a
	// value.
	Model []byte `json:"model,omitempty"`
	Blob  string `json:"blob,omitempty"`
	// Done: the run is over; Final names the blob of the final checkpoint.
	Done  bool   `json:"done,omitempty"`
	Final string `json:"final,omitempty"`
}

// Saved is the checkpoint variable's value: the update and episode counts
// of the last checkpoint and its blob (the team's models with their update
// state, learning.Team.ResumeCheckpoint), with what the learner needs to
// resume (the best validation so far and the blob of its models).
type Saved struct {
	Update   int     `json:"update"`
	Episodes int     `json:"episodes"`
	Next     int     `json:"next"`
	Blob     string  `json:"blob"`
	Best     float64 `json:"best"`
	BestAt   int     `json:"best_at"`
	BestBlob string  `json:"best_blob,omitempty"`
	// LastValid is the episode count of the last validation.
	LastValid int   `json:"last_valid"`
	Stats     Stats `json:"stats"`
}

// Done is the done variable's value: the run's outcome.
type Done struct {
	Updates  int `json:"updates"`
	Episodes int `json:"episodes"`
	// Selected is the episode count after which the final models were
	// taken (the best validated, with Select).
	Selected int    `json:"selected_after"`
	Final    string `json:"final"`
	Stats    Stats  `json:"stats"`
	// Elapsed is how long the last learner took, in virtual time units
	// (live: the runtime's Scale each), from its first parameters to the
	// end; ElapsedFrom the update it started from (0: the whole run).
	Elapsed     float64 `json:"elapsed"`
	ElapsedFrom int     `json:"elapsed_from"`
}

// Stats count the experience that reached the learner: messages (one per
// rollout node per update, its coordinator's aggregate), their bytes, and
// the agent-episodes they carried (what sending each agent's experience
// on its own would have taken in messages).
type Stats struct {
	Messages      int `json:"messages"`
	Bytes         int `json:"bytes"`
	AgentEpisodes int `json:"agent_episodes"`
	// MaxIn is the largest number of experience messages one update read.
	MaxIn int `json:"max_in"`
}

// Batch is a rollout node's experience for one epoch: its coordinator's
// aggregate of every agent's experience in every episode it ran.
type Batch struct {
	Node     string    `json:"node"`
	Episodes []Episode `json:"episodes"`
	// Blob, in the store's value, names the object holding the batch when
	// it is too large for a value (Episodes is then empty there).
	Blob string `json:"blob,omitempty"`
}

// Episode is one rollout episode's experience, by policy name.
type Episode struct {
	Number int               `json:"number"`
	Agents int               `json:"agents"`
	Data   map[string][]byte `json:"data"`
}

// decodeStrict decodes one JSON object into v, refusing unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	return nil
}

// decodeBatch decodes a rollout node's batch and checks it is one of the
// epoch's: from node, episodes numbered as assigned.
func decodeBatch(b []byte, node string, want []int) (Batch, error) {
	var x Batch
	if err := decodeStrict(b, &x); err != nil {
		return x, fmt.Errorf("training: experience of %s is not readable: %w", node, err)
	}
	if x.Node != node || len(x.Episodes) != len(want) || x.Blob != "" {
		return x, fmt.Errorf("training: experience of %s claims node %q and %d episodes, want %d", node, x.Node, len(x.Episodes), len(want))
	}
	for i, e := range x.Episodes {
		if e.Number != want[i] || e.Agents < 0 {
			return x, fmt.Errorf("training: experience of %s holds episode %d, want %d", node, e.Number, want[i])
		}
	}
	return x, nil
}
