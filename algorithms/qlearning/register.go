package qlearning

import "github.com/marlon-go/marlon/learning"

// The generic Q-learning every environment offers, with DefaultConfig and
// the bins its adapter's schema suggests. Environments register their own
// tuned "qlearning" for their family (learning.RegisterFor), which takes
// precedence there.
func init() {
	learning.Register(learning.Algorithm{
		Name: "qlearning", About: "tabular Q-learning, epsilon-greedy, on the schema's bins (default settings)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return New(spec, DefaultConfig()) },
	})
}
