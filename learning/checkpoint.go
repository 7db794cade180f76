package learning

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Checkpoint format identification. A reader refuses any other format or
// version.
const (
	CheckpointFormat  = "marlon-checkpoint"
	CheckpointVersion = 2
)

// Checkpoint is a team's learnt state: every policy's model, how agents map
// onto policies, and what the models were trained for (the environment and
// its version, the algorithm, the observation schema and the action space),
// so that a mismatched checkpoint is refused rather than misread. A
// checkpoint a learner is to resume from (Team.ResumeCheckpoint) also holds
// the update state of its Resumable policies. It is stored as JSON with a
// SHA-256 checksum of its content.
type Checkpoint struct {
	Format      string            `json:"format"`
	Version     int               `json:"version"`
	Environment string            `json:"environment"`
	Algorithm   string            `json:"algorithm"`
	Observation string            `json:"observation"`
	Fields      []string          `json:"fields"`
	Actions     int               `json:"actions"`
	Shared      bool              `json:"shared"`
	Episodes    int               `json:"episodes_trained"`
	Meta        map[string]string `json:"meta,omitempty"`
	Policies    map[string][]byte `json:"policies"`
	// UpdateState is the update state of each Resumable policy, by policy
	// name, in a checkpoint made by Team.ResumeCheckpoint; absent (nil) in
	// one made by Team.Checkpoint, and in every checkpoint written before
	// it existed: its policies are then restored with their update state
	// started afresh.
	UpdateState map[string][]byte `json:"update_state,omitempty"`
	Checksum    string            `json:"checksum"`
}

// ErrCheckpoint wraps every reason a checkpoint is refused.
var ErrCheckpoint = errors.New("checkpoint refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCheckpoint, fmt.Sprintf(format, args...))
}

// Checkpoint captures the team's models, trained with algorithm in
// environment env (its name with its version, "loadbalancing/v1") on agents
// described by spec. Every policy must be a Model.
func (t *Team) Checkpoint(env, algorithm string, spec Spec, episodes int) (*Checkpoint, error) {
	models, err := t.models()
	if err != nil {
		return nil, err
	}
	return &Checkpoint{
		Format: CheckpointFormat, Version: CheckpointVersion, Environment: env, Algorithm: algorithm,
		Observation: spec.Observation.Name(), Fields: spec.Observation.Fields(), Actions: spec.Actions.N,
		Shared: t.shared, Episodes: episodes, Policies: models,
	}, nil
}

// Restore loads c's models into the team's policies, and the update state
// c holds for a policy, if any (Resumable), after its model. The
// checkpoint must have been made by the same algorithm in the same
// environment version for the same observation schema and action space,
// with the same mapping (shared or not); a team that is not shared needs a
// model for every one of its policies, a shared team takes the shared
// model whatever its number of agents.
func (t *Team) Restore(c *Checkpoint, env, algorithm string, spec Spec) error {
	if err := c.Fits(env, algorithm, spec); err != nil {
		return err
	}
	if c.Shared != t.shared {
		return refuse("it holds %s policies and this run uses %s ones", mapping(c.Shared), mapping(t.shared))
	}
	for _, name := range t.Policies() {
		b, ok := c.Policies[name]
		if !ok {
			have := make([]string, 0, len(c.Policies))
			for n := range c.Policies {
				have = append(have, n)
			}
			slices.Sort(have)
			return refuse("it has no model for %s (it has %v); independent policies load only into the same agents, shared ones into any number", name, have)
		}
		m, ok := As[Model](t.policies[name])
		if !ok {
			return fmt.Errorf("learning: policy %s cannot load a model", name)
		}
		if err := m.UnmarshalBinary(b); err != nil {
			return refuse("model %s: %v", name, err)
		}
		if err := restoreUpdateState(c, name, t.policies[name]); err != nil {
			return err
		}
	}
	return nil
}

func mapping(shared bool) string {
	if shared {
		return "shared"
	}
	return "independent (or per-kind)"
}

// Fits reports why c cannot serve algorithm in environment env on spec, or
// nil.
func (c *Checkpoint) Fits(env, algorithm string, spec Spec) error {
	switch {
	case c.Environment != env:
		return refuse("it was trained on environment %s, not %s: environment versions differ in their dynamics, so a policy learnt on one is not a policy for the other (train on %s, or run --env %s)", c.Environment, env, env, c.Environment)
	case c.Algorithm != algorithm:
		return refuse("it was trained with %s, not %s", c.Algorithm, algorithm)
	case c.Observation != spec.Observation.Name() || !slices.Equal(c.Fields, spec.Observation.Fields()):
		return refuse("its observation schema is %s %v, this run's is %s %v", c.Observation, c.Fields, spec.Observation.Name(), spec.Observation.Fields())
	case c.Actions != spec.Actions.N:
		return refuse("it has %d actions, this run has %d", c.Actions, spec.Actions.N)
	}
	return nil
}

func (c *Checkpoint) sum() (string, error) {
	cp := *c
	cp.Checksum = ""
	b, err := json.Marshal(&cp)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// Write stores c, with its checksum, as JSON.
func (c *Checkpoint) Write(w io.Writer) error {
	sum, err := c.sum()
	if err != nil {
		return err
	}
	c.Checksum = sum
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(c)
}

// ReadCheckpoint reads a checkpoint and refuses it if it is not one, is of
// another version, or its checksum does not match its content.
func ReadCheckpoint(r io.Reader) (*Checkpoint, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var c Checkpoint
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, refuse("not a readable checkpoint (corrupt or not JSON): %v", err)
	}
	switch {
	case c.Format != CheckpointFormat:
		return nil, refuse("format %q, want %q", c.Format, CheckpointFormat)
	case c.Version == 1:
		return nil, refuse("version 1, made before checkpoints recorded the environment version they were trained on; this build reads version %d: train again", CheckpointVersion)
	case c.Version != CheckpointVersion:
		return nil, refuse("version %d; this build reads version %d", c.Version, CheckpointVersion)
	}
	sum, err := c.sum()
	if err != nil {
		return nil, err
	}
	if sum != c.Checksum {
		return nil, refuse("checksum mismatch: the file was changed or truncated")
	}
	return &c, nil
}

// Save writes c to path atomically (a reader never sees half a file). An
// error names path, not the temporary file the checkpoint is written to
// first.
func (c *Checkpoint) Save(path string) (err error) {
	defer func() {
		if err != nil {
			err = saveError(path, err)
		}
	}()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := c.Write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// saveError is err, from writing path through a temporary file, as an
// error about path.
func saveError(path string, err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return &os.PathError{Op: "write", Path: path, Err: err}
}

// LoadCheckpoint reads the checkpoint at path.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ReadCheckpoint(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
