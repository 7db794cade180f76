package coordination

import (
	"cmp"
	"slices"
)

// sortedKeys returns m's keys in order. Actors iterate maps through it
// wherever the order can show (messages sent, timers set), so that a
// simulated run does not depend on Go's map order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
