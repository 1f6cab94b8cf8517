// Command benchreport runs protoql's benchmarks (package bench) and prints
// their tables in Markdown: the workloads on protoql, raw Pebble, blob per
// record and SQLite, the throughput of protoql, raw Pebble and SQLite with
// 1, 4 and 16 goroutines, the query compile times, the growth curve and
// the growth curve at a fixed working set (both drawn in one PNG), the
// Indexes section (lookups through a unique and a non-unique index, writes
// to tables with 0, 1 and 3 indexes) and the DESIGN.md §8 targets.
//
//	go run ./cmd/benchreport -users 1000000 -reps 5 -scan-reps 7 -scan-apart-reps 11 -plot growth.png
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/protoql/protoql/bench"
)

func main() {
	cfg := bench.Config{Log: os.Stderr}
	flag.StringVar(&cfg.Dir, "dir", "", "directory for the stores (default: a temporary directory, removed after)")
	flag.IntVar(&cfg.Users, "users", 1_000_000, "users in the data set")
	flag.IntVar(&cfg.Reps, "reps", 5, "repetitions of every measurement but the full scans; medians are reported")
	flag.IntVar(&cfg.ScanReps, "scan-reps", bench.DefaultScanReps, "repetitions of the colocated full scan, one scan per column each (0: -reps)")
	flag.IntVar(&cfg.ScanApartReps, "scan-apart-reps", bench.DefaultScanApartReps, "repetitions of the apart full scan, one scan per column each (0: -reps)")
	flag.IntVar(&cfg.Rounds, "rounds", bench.DefaultRounds, "rounds a repetition of a main, index or growth workload (not a scan) is split into, the columns taking turns (1: one stretch per column)")
	flag.DurationVar(&cfg.OpTime, "optime", 200*time.Millisecond, "duration of one repetition of a non-scan workload")
	flag.BoolVar(&cfg.Sync, "sync", false, "fsync every commit, in every engine")
	flag.BoolVar(&cfg.Conc, "conc", true, "run the concurrency workloads (1, 4 and 16 goroutines)")
	flag.IntVar(&cfg.ConcRows, "conc-rows", bench.DefaultConcRows, "rows of each column's concurrent writers")
	flag.BoolVar(&cfg.Main, "main", true, "run the main workloads, the concurrency section and the query compilations (false: skip them and the loading of -users)")
	flag.IntVar(&cfg.IndexRows, "index-rows", bench.DefaultIndexRows, "rows of each table of the Indexes section (0: skip the section)")
	cacheMiB := flag.Int64("cache", 64, "MiB of read cache of every store (SQLite's page cache, the room for blocks in Pebble's block cache)")
	sizes := flag.String("growth", "10,1000,100000,1000000", "map sizes of the growth curve (comma-separated; empty: none)")
	flag.BoolVar(&cfg.WorkingSet, "wset", true, "run the growth curve at a fixed working set too, on the -growth sizes (W = the largest)")
	plotPath := flag.String("plot", "growth.png", "where to write the growth curve PNG (empty: nowhere)")
	flag.Parse()
	for _, f := range []struct {
		name string
		n    int
	}{{"reps", cfg.Reps}, {"scan-reps", cfg.ScanReps}, {"scan-apart-reps", cfg.ScanApartReps}, {"rounds", cfg.Rounds}} {
		if f.name == "reps" && f.n < 1 {
			fmt.Fprintf(os.Stderr, "benchreport: -reps must be positive, not %d\n", f.n)
			os.Exit(2)
		}
		if f.n < 0 {
			fmt.Fprintf(os.Stderr, "benchreport: -%s must not be negative (%d)\n", f.name, f.n)
			os.Exit(2)
		}
	}
	if *cacheMiB <= 0 {
		fmt.Fprintln(os.Stderr, "benchreport: -cache must be positive")
		os.Exit(2)
	}
	cfg.CacheBytes = *cacheMiB << 20
	var err error
	if cfg.GrowthSizes, err = parseSizes(*sizes); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(2)
	}
	if err := cfg.Check(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(2)
	}
	r, err := bench.Run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	r.WriteTables(os.Stdout)
	if *plotPath != "" && len(cfg.GrowthSizes) > 0 {
		if err := r.WritePlot(*plotPath); err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-growth: %q is not a positive size", f)
		}
		out = append(out, n)
	}
	return out, nil
}
