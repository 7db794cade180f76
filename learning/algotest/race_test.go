//go:build race

package algotest_test

const raceEnabled = true
