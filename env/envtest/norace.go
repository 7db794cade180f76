//go:build !race

package envtest

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
