package pebblekv_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/kv/pebblekv"
)

// BenchmarkUpdateKeyScaling measures how read-modify-writes of distinct
// keys scale from 1 to scaleGoroutines goroutines: UpdateKey (kv.KeyUpdater,
// what an inline setter such as the bench module's set-expiry runs: occ's
// registration, a Pebble Get, a one-key batch, occ.CommitGrouped) against
// Pebble's own Get and one-key Set under a per-key stripe lock (the bench
// module's raw column). Each iteration runs a stretch of scaleStretch
// operations of each column with 1 and with scaleGoroutines goroutines, in
// alternating order, on one store; the benchmark reports the medians over
// the iterations of each column's speedup (the wall time of the stretch on
// 1 goroutine over that on scaleGoroutines, so x4 above 1 means faster)
// and CPU time per operation. Adjacent stretches see about the same load
// from the rest of a shared machine, which whole runs of a few seconds
// each do not. -benchtime 60x for 60 iterations.
func BenchmarkUpdateKeyScaling(b *testing.B) {
	const keys = 1 << 14
	ks := make([][]byte, keys)
	for i := range ks {
		ks[i] = fmt.Appendf(nil, "\x01user-%05d\x00\x02\x03", (i*7919)%keys)
	}
	s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, db := context.Background(), s.DB()
	for _, k := range ks {
		if err := s.SetKey(ctx, k, make([]byte, 8)); err != nil {
			b.Fatal(err)
		}
	}
	var stripes [1024]sync.Mutex
	inc := func(val []byte) []byte {
		out := make([]byte, 8)
		if len(val) == 8 {
			binary.LittleEndian.PutUint64(out, binary.LittleEndian.Uint64(val)+1)
		}
		return out
	}
	cols := [2]func(i int) error{
		func(i int) error {
			return s.UpdateKey(ctx, ks[i%keys], func(val []byte, found bool) ([]byte, bool, error) {
				return inc(val), true, nil
			})
		},
		func(i int) error {
			k := ks[i%keys]
			mu := &stripes[i%keys%len(stripes)]
			mu.Lock()
			defer mu.Unlock()
			v, closer, err := db.Get(k)
			if err != nil {
				return err
			}
			out := inc(v)
			if err := closer.Close(); err != nil {
				return err
			}
			return db.Set(k, out, pebble.NoSync)
		},
	}
	// stretch runs n operations of col from g goroutines (operation i of
	// goroutine w is next+w+i*g: distinct keys) and returns its wall time
	// and CPU time per operation.
	next := 0
	stretch := func(col func(int) error, g, n int) (wall time.Duration, cpu float64) {
		var wg sync.WaitGroup
		errs := make(chan error, g)
		c0, t0 := cpubench.Now(), time.Now()
		for w := range g {
			wg.Go(func() {
				for i := w; i < n; i += g {
					if err := col(next + i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		wall, cpu = time.Since(t0), float64(cpubench.Now()-c0)/float64(n)
		next += n
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return wall, cpu
	}
	var speedup [2][]float64
	var cpu [2][2][]float64 // column, 1 or scaleGoroutines goroutines
	iter := 0
	for b.Loop() {
		for k := range 2 {
			c := (k + iter) % 2
			order := [2]int{1, scaleGoroutines}
			if iter%2 == 1 {
				order = [2]int{scaleGoroutines, 1}
			}
			var wall [2]time.Duration
			for _, g := range order {
				j := 0
				if g != 1 {
					j = 1
				}
				var c1 float64
				wall[j], c1 = stretch(cols[c], g, scaleStretch)
				cpu[c][j] = append(cpu[c][j], c1)
			}
			speedup[c] = append(speedup[c], float64(wall[0])/float64(wall[1]))
		}
		iter++
	}
	b.ReportMetric(median(speedup[0]), "updatekey-x4")
	b.ReportMetric(median(speedup[1]), "pebble-x4")
	b.ReportMetric(median(cpu[0][0]), "updatekey-g1-cpu-ns/op")
	b.ReportMetric(median(cpu[0][1]), "updatekey-g4-cpu-ns/op")
	b.ReportMetric(median(cpu[1][0]), "pebble-g1-cpu-ns/op")
	b.ReportMetric(median(cpu[1][1]), "pebble-g4-cpu-ns/op")
}

// scaleGoroutines and scaleStretch are BenchmarkUpdateKeyScaling's
// goroutines and operations per stretch.
const (
	scaleGoroutines = 4
	scaleStretch    = 4000
)
