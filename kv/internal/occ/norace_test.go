//go:build !race

package occ

const raceEnabled = false
