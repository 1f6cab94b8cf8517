package bench

import (
	"context"
	"strings"
	"testing"
)

// TestConfigCheck: a library caller's negative count is refused by name,
// by Check and by Run before it does anything, where it used to be taken
// silently as the default; zero values keep meaning their defaults.
func TestConfigCheck(t *testing.T) {
	ok := []Config{
		{},
		{Main: true, Users: 1},
		{Main: true, Users: 1, Conc: true, ConcRows: 16},
		{Conc: true, ConcRows: 1}, // no concurrency section without Main
		{Reps: 5, ScanReps: 7, ScanApartReps: 11, Rounds: 10, ConcRows: 32, IndexRows: 100, GrowthSizes: []int{1, 10}, CacheBytes: 1},
	}
	for _, c := range ok {
		if err := c.Check(); err != nil {
			t.Errorf("Check(%+v): %v; want nil", c, err)
		}
	}
	bad := []struct {
		c    Config
		want string
	}{
		{Config{Reps: -1}, "Config.Reps is -1"},
		{Config{ScanReps: -2}, "Config.ScanReps is -2"},
		{Config{ScanApartReps: -3}, "Config.ScanApartReps is -3"},
		{Config{Rounds: -1}, "Config.Rounds is -1"},
		{Config{ConcRows: -1}, "Config.ConcRows is -1"},
		{Config{IndexRows: -1}, "Config.IndexRows is -1"},
		{Config{Users: -1}, "Config.Users is -1"},
		{Config{Main: true}, "Config.Users is 0"},
		{Config{CacheBytes: -1}, "Config.CacheBytes is -1"},
		{Config{GrowthSizes: []int{10, 0}}, "Config.GrowthSizes holds 0"},
		{Config{OpTime: -1}, "Config.OpTime is -1ns"},
		{Config{Main: true, Users: 1, Conc: true, ConcRows: 15}, "Config.ConcRows is 15"},
	}
	for _, b := range bad {
		err := b.c.Check()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Check(%+v): %v; want an error with %q", b.c, err, b.want)
		}
		dir := t.TempDir()
		b.c.Dir = dir
		if r, err := Run(context.Background(), b.c); err == nil || r != nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Run(%+v): %v, %v; want no report and an error with %q", b.c, r, err, b.want)
		}
	}
}
