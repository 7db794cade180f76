//go:build !race

package algotest

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
