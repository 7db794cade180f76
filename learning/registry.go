package learning

import (
	"fmt"
	"strings"
	"sync"
)

// Algorithm is an algorithm as the registry knows it: a name and a way to
// make its policy for a Spec.
type Algorithm struct {
	// Name is what users call it ("qlearning", "gss"): letters, digits, '-',
	// '_', '.' or ':'.
	Name string
	// About says in a line what it is, for listings.
	About string
	// Learns reports whether it learns from rewards, and so is trained
	// before it is evaluated.
	Learns bool
	// Native marks an algorithm that reads an environment's own
	// observations and acts in its own action space (the classical
	// load-balancing techniques): it is made with the agents' own Spec.
	// Any other algorithm is generic: it is made with the Spec of one of the
	// environment's adapters, and its agents are adapted (Adapt).
	Native bool
	// Baseline marks a trivial baseline of a learner's action space (always
	// the same action, uniformly random): what a learner is measured
	// against to show what learning adds, not an algorithm of the field.
	Baseline bool
	// New makes the policy for agents described by spec.
	New func(spec Spec) (Policy, error)
	// Accepts, if set, says whether the algorithm makes sense for agents
	// described by spec (a head for ordered actions standing for an
	// interval, say): a comparison leaves out an algorithm whose Accepts
	// refuses the spec (env.Expand), naming nothing; asked for by name, it
	// is refused with the error.
	Accepts func(spec Spec) error
	// NewWith, if set, makes the algorithm a family of algorithms named
	// "NAME:PARAM" ("fixed:share-1": always the action labelled share-1):
	// Lookup resolves such a name to an Algorithm whose New calls NewWith
	// with the parameter. New may then be nil.
	NewWith func(param string, spec Spec) (Policy, error)
	// Params lists, for a parametric algorithm, the parameters of its
	// instances for agents described by spec (every action of the space,
	// for "fixed"): what a comparison runs.
	Params func(spec Spec) []string
}

// Parametric reports whether a is a family of algorithms named
// "NAME:PARAM".
func (a Algorithm) Parametric() bool { return a.NewWith != nil }

// Instances are the names a comparison runs for a on agents described by
// spec: a's name, or for a parametric algorithm "NAME:PARAM" for each of
// a.Params(spec).
func (a Algorithm) Instances(spec Spec) []string {
	if !a.Parametric() {
		return []string{a.Name}
	}
	var names []string
	if a.Params != nil {
		for _, p := range a.Params(spec) {
			names = append(names, a.Name+":"+p)
		}
	}
	return names
}

// The registry: generic algorithms, and each environment family's own
// (which may override a generic one of the same name, with settings tuned
// for the family).
var registry struct {
	mu       sync.RWMutex
	generic  []Algorithm
	families map[string][]Algorithm
}

// Register makes a available in every environment. It panics if a is
// invalid or its name is taken: registration happens once, in code (an
// algorithm package's init, say).
func Register(a Algorithm) { register("", a) }

// RegisterFor makes a available in the environments of family (an
// environment's name without its version: "loadbalancing"). An algorithm
// registered for a family takes precedence there over a generic one of the
// same name. It panics if a is invalid or its name is taken in the family.
func RegisterFor(family string, a Algorithm) {
	if family == "" || strings.Contains(family, "/") {
		panic(fmt.Sprintf("learning: RegisterFor(%q): the family is an environment's name without its version", family))
	}
	register(family, a)
}

func register(family string, a Algorithm) {
	if !validAlgorithmName(a.Name) || strings.Contains(a.Name, ":") || (a.New == nil && a.NewWith == nil) {
		panic(fmt.Sprintf("learning: cannot register algorithm %q: it needs a name of letters, digits, '-', '_' or '.' and a New (or NewWith) function", a.Name))
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	list := &registry.generic
	if family != "" {
		if registry.families == nil {
			registry.families = map[string][]Algorithm{}
		}
		l := registry.families[family]
		list = &l
		defer func() { registry.families[family] = l }()
	}
	for _, b := range *list {
		if b.Name == a.Name {
			panic(fmt.Sprintf("learning: algorithm %q registered twice", a.Name))
		}
	}
	*list = append(*list, a)
}

func validAlgorithmName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return false
		}
	}
	return true
}

// Family is the environment family of an environment name: the name
// without its version ("loadbalancing" for "loadbalancing/v1").
func Family(env string) string {
	f, _, _ := strings.Cut(env, "/")
	return f
}

// Algorithms lists what can run in the environments of family: the
// family's own algorithms in the order they were registered, then the
// generic ones it does not override, in theirs.
func Algorithms(family string) []Algorithm {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	own := registry.families[family]
	out := append([]Algorithm(nil), own...)
	for _, g := range registry.generic {
		overridden := false
		for _, o := range own {
			overridden = overridden || o.Name == g.Name
		}
		if !overridden {
			out = append(out, g)
		}
	}
	return out
}

// AlgorithmNames lists the names of Algorithms(family), in the same order.
func AlgorithmNames(family string) []string {
	var names []string
	for _, a := range Algorithms(family) {
		names = append(names, a.Name)
	}
	return names
}

// Runnable lists the names a comparison runs in an environment of family
// whose generic algorithms see its agents as adapted (the spec of its
// adapter): every algorithm in registration order (Algorithms), a
// parametric one as its instances for adapted, leaving out those whose
// Accepts refuses adapted. Native algorithms are listed by name.
func Runnable(family string, adapted Spec) []string {
	var names []string
	for _, a := range Algorithms(family) {
		switch {
		case a.Native:
			names = append(names, a.Name)
		case a.Accepts != nil && a.Accepts(adapted) != nil:
		default:
			names = append(names, a.Instances(adapted)...)
		}
	}
	return names
}

// Lookup finds the algorithm name for family; a name "NAME:PARAM" finds an
// instance of the parametric algorithm NAME. The error names the
// algorithms that exist.
func Lookup(family, name string) (Algorithm, error) {
	all := Algorithms(family)
	base, param, parametric := strings.Cut(name, ":")
	for _, a := range all {
		switch {
		case a.Name != base:
		case parametric && a.Parametric() && param != "":
			inst := a
			inst.Name, inst.NewWith = name, nil
			inst.New = func(spec Spec) (Policy, error) { return a.NewWith(param, spec) }
			return inst, nil
		case !parametric:
			return a, nil // a parametric one too: it lists its instances (Instances)
		}
	}
	names := make([]string, len(all))
	for i, a := range all {
		names[i] = a.Name
		if a.Parametric() {
			names[i] += ":PARAM"
		}
	}
	return Algorithm{}, fmt.Errorf("unknown algorithm %q; one of %s", name, strings.Join(names, ", "))
}
