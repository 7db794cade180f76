package learning

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// counted is a bandit with an update state: the number of updates it made,
// a stand-in for an optimiser's step count, which its model leaves out.
type counted struct {
	*bandit
	updates int
}

func (c *counted) MarshalUpdateState() ([]byte, error) { return json.Marshal(c.updates) }
func (c *counted) UnmarshalUpdateState(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if n < 0 {
		return errors.New("negative updates")
	}
	c.updates = n
	return nil
}

var _ Resumable = (*counted)(nil)

// A checkpoint for resuming carries the Resumable policies' update state
// besides the models, which stay those of a plain checkpoint; Restore
// restores it. A plain checkpoint is written as before (no update state)
// and restores the models alone.
func TestResumeCheckpointCarriesTheUpdateState(t *testing.T) {
	spec := Spec{Observation: toySchema, Actions: Discrete(5)}
	orig := &counted{bandit: newBandit(5, 1), updates: 7}
	team := NewSharedTeam(orig)
	if _, err := Train(arms([]AgentID{"a"}), team, TrainConfig{Episodes: 10, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	plain, err := team.Checkpoint("toy/v1", "bandit", spec, 10)
	if err != nil {
		t.Fatal(err)
	}
	full, err := team.ResumeCheckpoint("toy/v1", "bandit", spec, 10)
	if err != nil {
		t.Fatal(err)
	}
	if plain.UpdateState != nil {
		t.Fatalf("a plain checkpoint holds an update state: %q", plain.UpdateState)
	}
	if !reflect.DeepEqual(full.Policies, plain.Policies) {
		t.Fatal("the resume checkpoint's models differ from the plain checkpoint's")
	}
	var buf bytes.Buffer
	if err := plain.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "update_state") {
		t.Fatal("a plain checkpoint is written with an update_state field: older readers refuse it")
	}
	buf.Reset()
	if err := full.Write(&buf); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(buf.String(), `"update_state": {`, `"update_state": {"other":"MQ==",`, 1)
	if _, err := ReadCheckpoint(strings.NewReader(edited)); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("an edited update state: %v, want a checksum mismatch", err)
	}
	read, err := ReadCheckpoint(&buf)
	if err != nil {
		t.Fatal(err)
	}

	restored := &counted{bandit: newBandit(5, 2)}
	if err := NewSharedTeam(restored).Restore(read, "toy/v1", "bandit", spec); err != nil {
		t.Fatal(err)
	}
	if restored.updates != orig.updates || !reflect.DeepEqual(restored.values, orig.values) {
		t.Fatalf("restored %d updates and values %v, want %d and %v", restored.updates, restored.values, orig.updates, orig.values)
	}
	modelOnly := &counted{bandit: newBandit(5, 2), updates: 3}
	if err := NewSharedTeam(modelOnly).Restore(plain, "toy/v1", "bandit", spec); err != nil {
		t.Fatal(err)
	}
	if modelOnly.updates != 3 || !reflect.DeepEqual(modelOnly.values, orig.values) {
		t.Fatalf("a plain checkpoint restored %d updates and values %v, want the policy's own 3 and the model's %v", modelOnly.updates, modelOnly.values, orig.values)
	}

	// An update state for a policy that keeps none, or one the policy
	// refuses, refuses the checkpoint.
	if err := NewSharedTeam(newBandit(5, 2)).Restore(read, "toy/v1", "bandit", spec); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "not learning.Resumable") {
		t.Errorf("into a policy without update state: %v", err)
	}
	bad := *full
	bad.UpdateState = map[string][]byte{SharedPolicy: []byte("-1")}
	if err := NewSharedTeam(&counted{bandit: newBandit(5, 2)}).Restore(&bad, "toy/v1", "bandit", spec); !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), "update state of policy shared") {
		t.Errorf("a refused update state: %v", err)
	}

	// A team of policies without update state checkpoints none.
	other := NewSharedTeam(newBandit(5, 1))
	if c, err := other.ResumeCheckpoint("toy/v1", "bandit", spec, 0); err != nil || c.UpdateState != nil {
		t.Errorf("ResumeCheckpoint of a policy without update state: %v, %q", err, c.UpdateState)
	}
}
