//go:build race

package pebblekv

const raceEnabled = true
