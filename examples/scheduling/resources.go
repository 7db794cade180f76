package scheduling

import "fmt"

// Resources are amounts of a node's three resources: CPU cores, memory
// (in MB) and GPUs. A job needs some of each; a node has a capacity and,
// at any moment, what its running jobs leave free.
type Resources struct {
	Cores  int `json:"cores"`
	Memory int `json:"memory_mb"`
	GPUs   int `json:"gpus"`
}

// Covers reports whether r is at least n in every resource: a node with
// r free can start a job that needs n.
func (r Resources) Covers(n Resources) bool {
	return r.Cores >= n.Cores && r.Memory >= n.Memory && r.GPUs >= n.GPUs
}

// Plus is r + n.
func (r Resources) Plus(n Resources) Resources {
	return Resources{r.Cores + n.Cores, r.Memory + n.Memory, r.GPUs + n.GPUs}
}

// Minus is r - n.
func (r Resources) Minus(n Resources) Resources {
	return Resources{r.Cores - n.Cores, r.Memory - n.Memory, r.GPUs - n.GPUs}
}

// IsZero reports whether r has nothing.
func (r Resources) IsZero() bool { return r == Resources{} }

// Valid reports whether no amount is negative.
func (r Resources) Valid() bool { return r.Cores >= 0 && r.Memory >= 0 && r.GPUs >= 0 }

func (r Resources) String() string {
	s := fmt.Sprintf("%d cores, %s", r.Cores, memString(r.Memory))
	if r.GPUs > 0 {
		s += fmt.Sprintf(", %d GPUs", r.GPUs)
	}
	return s
}

func memString(mb int) string {
	if mb%1024 == 0 {
		return fmt.Sprintf("%d GB", mb/1024)
	}
	return fmt.Sprintf("%.1f GB", float64(mb)/1024)
}

// share is the largest fraction of c that n takes in any resource c has
// (0 if c has none of anything n needs... or n needs nothing).
func share(n, c Resources) float64 {
	s := 0.0
	if c.Cores > 0 {
		s = max(s, float64(n.Cores)/float64(c.Cores))
	}
	if c.Memory > 0 {
		s = max(s, float64(n.Memory)/float64(c.Memory))
	}
	if c.GPUs > 0 {
		s = max(s, float64(n.GPUs)/float64(c.GPUs))
	}
	return s
}

// Job is a batch job: what it needs, when it was submitted, how long its
// user asked for (Requested: the wall-clock limit, which is all a scheduler
// knows of its length) and how long it runs (Run, at most Requested: a
// batch system kills a job at its limit). Run is the simulation's ground
// truth: the node that runs the job uses it to end it, as a real job would
// just end, and the metrics use it; no agent observes it.
type Job struct {
	ID        int       `json:"id"`
	Submit    float64   `json:"submit"`
	Run       float64   `json:"run"`
	Requested float64   `json:"requested"`
	Needs     Resources `json:"needs"`
}

// BoundedSlowdown is max(1, response / max(run, 10 s)): how much longer
// than its run a job spent in the system, with runs shorter than 10 s
// counted as 10 s so that very short jobs do not dominate a mean.
func BoundedSlowdown(response, run float64) float64 {
	return max(1, response/max(run, 10))
}
