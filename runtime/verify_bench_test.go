package runtime_test

import (
	"context"
	"flag"
	"fmt"
	"testing"

	testpb "github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

var benchPairs = flag.Int("verify.pairs", 100_000, "pairs in the DB of BenchmarkVerify and BenchmarkCopy")

// pairsDB returns an unsynced Pebble DB of about n pairs: users with a
// breakout and four counters each (six pairs a user).
func pairsDB(b *testing.B, n int) (kv.Store, *runtime.DB) {
	b.Helper()
	ctx := context.Background()
	s, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	db := openDB(b, s)
	users := table(b, db, "User")
	for i := 0; i < n/6; i++ {
		ref, _ := users.Row(str(fmt.Sprintf("user%08d", i)))
		u := &testpb.User{UserId: fmt.Sprintf("user%08d", i), Registered: uint64(i), LastSeenUs: int64(i),
			Counters: map[string]int64{"a": 1, "b": 2, "c": 3, "d": int64(i)}}
		if err := db.Put(ctx, ref, u); err != nil {
			b.Fatal(err)
		}
	}
	return s, db
}

// BenchmarkVerify reports verify's throughput in pairs per second
// (go test ./runtime -run X -bench Verify -args -verify.pairs=1000000).
func BenchmarkVerify(b *testing.B) {
	_, db := pairsDB(b, *benchPairs)
	b.ResetTimer()
	var pairs int64
	for b.Loop() {
		r, err := db.Verify(context.Background(), runtime.VerifyOptions{})
		if err != nil || !r.OK() {
			b.Fatal(err, r.Problems)
		}
		pairs += r.Pairs
	}
	b.ReportMetric(float64(pairs)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkCopy reports copy's throughput from Pebble to a fresh Pebble, in
// pairs per second, digests on both sides included.
func BenchmarkCopy(b *testing.B) {
	src, _ := pairsDB(b, *benchPairs)
	b.ResetTimer()
	var pairs int64
	for b.Loop() {
		b.StopTimer()
		dst, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r, err := runtime.Copy(context.Background(), src, dst, runtime.CopyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pairs += r.Pairs
		b.StopTimer()
		dst.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(pairs)/b.Elapsed().Seconds(), "pairs/s")
}
