package policygradient

import (
	"fmt"

	"github.com/marlon-go/marlon/learning"
)

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
		Accepts: func(spec learning.Spec) error {
			_, lo := spec.Params[learning.ParamLow]
			_, hi := spec.Params[learning.ParamHigh]
			if !lo || !hi {
				return fmt.Errorf("pg-beta draws from an interval: it needs an action space of ordered steps of one (Spec.Params %s and %s), such as an environment's fraction adapter", learning.ParamLow, learning.ParamHigh)
			}
			return nil
		},
	})
}
