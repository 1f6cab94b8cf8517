package pebblekv

import (
	"strconv"
	"testing"
)

// BenchmarkFieldPatchMerge merges n operands of one key as a Pebble
// compaction does with fieldPatchMerger: Merge with the newest operand,
// MergeOlder with each older one (patches of one int64 field, the
// set-expiry workload's, above a base value of the entry), Finish, and
// the Closer Finish returned. allocs/op is the merger's allocations per
// merged key: zero once its pool is warm.
func BenchmarkFieldPatchMerge(b *testing.B) {
	base := append(rec(1, 1_700_000_000_000_000), rec(2, 7)...)
	for _, n := range []int{2, 10, 100} {
		ops := make([][]byte, n) // newest first; ops[n-1] is the base
		for k := range n - 1 {
			ops[k] = patch(b, []int32{1}, rec(1, uint64(1_700_000_000_000_000+k)))
		}
		ops[n-1] = base
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			key := []byte("key")
			for b.Loop() {
				vm, err := fieldPatchMerger.Merge(key, ops[0])
				if err != nil {
					b.Fatal(err)
				}
				for _, v := range ops[1:] {
					if err := vm.MergeOlder(v); err != nil {
						b.Fatal(err)
					}
				}
				out, closer, err := vm.Finish(true)
				if err != nil || len(out) == 0 {
					b.Fatalf("finish: %q, %v", out, err)
				}
				if closer != nil {
					_ = closer.Close()
				}
			}
		})
	}
}
