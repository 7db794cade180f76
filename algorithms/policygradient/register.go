package policygradient

import "github.com/marlon-go/marlon/learning"

// The generic policy gradient every environment offers, with DefaultConfig.
// Environments register their own tuned "pg" for their family
// (learning.RegisterFor), which takes precedence there.
func init() {
	learning.Register(learning.Algorithm{
		Name: "pg", About: "REINFORCE with a value baseline on gorgonia (default settings)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) { return New(spec, DefaultConfig()) },
	})
	learning.Register(learning.Algorithm{
		Name: "pg-beta", About: "REINFORCE with a continuous Beta head for ordered action spaces (default settings)", Learns: true,
		New: func(spec learning.Spec) (learning.Policy, error) {
			cfg := DefaultConfig()
			cfg.Head = HeadBeta
			return New(spec, cfg)
		},
	})
}
