//go:build !windows

package pebblekv

func isSharingViolation(error) bool { return false }
