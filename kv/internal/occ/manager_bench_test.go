package occ

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkCommitGrouped commits single-key read-modify-writes through
// CommitGrouped from g goroutines (distinct keys, so no conflicts), the way
// pebblekv's UpdateKey does: BeginReg with no snapshot, then CommitGrouped
// with a one-key read set. The apply step only counts the commits, so what
// is measured is the manager: its lock, its queue and the handoffs between
// a group's leader and its members. Compare g=1 with g=4 (with -cpu 2, as
// the bench module's Concurrency section runs) and old with new.
func BenchmarkCommitGrouped(b *testing.B) {
	for _, g := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) {
			m := NewManager("bench", 0)
			var applied atomic.Int64
			applyGroup := func(items []Item) error {
				applied.Add(int64(len(items)))
				return nil
			}
			b.ReportAllocs()
			var wg sync.WaitGroup
			for w := range g {
				k := b.N / g
				if w < b.N%g {
					k++
				}
				wg.Go(func() {
					key := fmt.Appendf(nil, "key%04d", w)
					var reg Reg
					var rs ReadSet
					it := &testItem{"w", string(key)}
					for range k {
						reg = Reg{}
						m.BeginReg(&reg, nil)
						rs.OnlyPoint(key)
						if err := m.CommitGrouped(&reg, &rs, it, applyGroup); err != nil {
							b.Error(err)
							return
						}
						m.End(&reg)
					}
				})
			}
			wg.Wait()
			if got := applied.Load(); got != int64(b.N) {
				b.Fatalf("applied %d commits, want %d", got, b.N)
			}
		})
	}
}

// BenchmarkCommitGroupedBlind commits blind writes (pebblekv's Apply: no
// registration, no read set) from one goroutine, with the apply step only
// counting them: the manager's cost of an uncontended blind write.
func BenchmarkCommitGroupedBlind(b *testing.B) {
	m := NewManager("bench", 0)
	n := 0
	applyGroup := func(items []Item) error {
		n += len(items)
		return nil
	}
	it := &testItem{"w", "key"}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.CommitGrouped(nil, nil, it, applyGroup); err != nil {
			b.Fatal(err)
		}
	}
	if n != b.N {
		b.Fatalf("applied %d commits, want %d", n, b.N)
	}
}
