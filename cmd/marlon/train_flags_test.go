package main

import (
	"encoding/json"
	"flag"
	"io"
	"strings"
	"testing"

	dtrain "github.com/marlon-go/marlon/training"
)

// Bad input to marlon train and marlon node --rollouts exits 2 with a
// message naming the flag, before connecting to anything.
func TestTrainBadInputNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"train", "--algorithm", "pg"}, "--nats"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1", "--algorithm", "pg", "--replicas", "2"}, "--replicas"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1"}, "--algorithm"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1", "--algorithm", "gss"}, "--algorithm"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1", "--algorithm", "pg", "--per-node", "0"}, "--per-node"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1", "--algorithm", "pg", "--min-nodes", "0"}, "--min-nodes"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1", "--algorithm", "pg", "--run", "a.b"}, "--run"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1", "--algorithm", "pg", "--compare"}, "--compare"},
		{[]string{"train", "--env", "nosuch/v1", "--algorithm", "pg"}, "--env"},
		{[]string{"train", "--nats", "nats://127.0.0.1:1", "--env", "scheduling/v1", "--algorithm", "pg", "--jobs", "-1"}, "jobs"},
		{[]string{"node", "--rollouts", "--nats", "nats://127.0.0.1:1"}, "--name"},
		{[]string{"node", "--rollouts", "--nats", "nats://127.0.0.1:1", "--name", "n1", "--lease", "10ms"}, "--lease"},
		{[]string{"coordinators", "--agents", "3", "--p", "4"}, "--p"},
		{[]string{"coordinators", "--aggregate", "mean"}, "--aggregate"},
	} {
		code, _, stderr := marlon(t, c.args...)
		if code != 2 || !strings.Contains(strings.ToLower(stderr), c.flag) {
			t.Errorf("marlon %v: exit %d, stderr %q; want 2 and a message naming %s", c.args, code, stderr, c.flag)
		}
	}
}

// marlon train serves every environment it lists: each makes its
// environment back from the scenario its flags give.
func TestTrainableEnvironmentsRoundTripTheirScenario(t *testing.T) {
	for _, te := range trainableEnvs() {
		fs := newFlagSet()
		scenario := te.flags(fs)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		sc, err := scenario()
		if err != nil {
			t.Fatalf("%s: %v", te.family, err)
		}
		e, err := newTrainEnv(dtrain.Spec{Env: te.family + "/" + te.versions[len(te.versions)-1], Scenario: sc, Seed: 1})
		if err != nil {
			t.Fatalf("%s: %v", te.family, err)
		}
		if !strings.HasPrefix(e.Name(), te.family+"/") {
			t.Errorf("%s made %s", te.family, e.Name())
		}
		if _, err := newTrainEnv(dtrain.Spec{Env: te.family + "/v999", Scenario: sc}); err == nil {
			t.Errorf("%s: an unknown version was made", te.family)
		}
		if _, err := newTrainEnv(dtrain.Spec{Env: te.family + "/" + te.versions[0], Scenario: json.RawMessage(`{"nope":1}`)}); err == nil {
			t.Errorf("%s: a scenario with an unknown field was accepted", te.family)
		}
	}
	if te, err := envFromArgs([]string{"--algorithm", "pg", "--env=scheduling/v1"}); err != nil || te.family != "scheduling" {
		t.Errorf("envFromArgs found %q, %v; want scheduling", te.family, err)
	}
}

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
