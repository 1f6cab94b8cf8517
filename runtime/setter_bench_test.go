package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

// BenchmarkSetters measures the generated setters of a breakout field (a
// blind write) and of an inline field of a map entry (a read-modify-write
// in a transaction) on unsynced Pebble, beside the same key operations
// written against the Pebble database directly ("raw"): what protoql adds
// on top of Pebble on these paths. Each operation goes to the next of
// 10,000 users, as BenchmarkPebble's do.
func BenchmarkSetters(b *testing.B) {
	const benchUsers = 10000
	ctx := context.Background()
	store, err := pebblekv.Open(b.TempDir(), pebblekv.WithSync(false))
	check(b, err)
	b.Cleanup(func() { store.Close() })
	db := openDB(b, store)
	users := must[testpb.UserTable](b)(testpb.NewUserTable(db))
	ids := make([]string, benchUsers)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
		check(b, users.Put(ctx, userWithSessions(ids[i], 10)))
	}
	pdb := store.DB()
	b.Run("breakout/protoql", func(b *testing.B) {
		b.ReportAllocs()
		defer cpubench.Report(b)()
		for i := 0; b.Loop(); i++ {
			if err := users.Row(ids[i%benchUsers]).LastSeenUs().Set(ctx, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("breakout/raw", func(b *testing.B) {
		b.ReportAllocs()
		defer cpubench.Report(b)()
		// The key protoql writes, built once per user outside the loop:
		// raw's cost is Pebble's Set alone.
		keys := make([][]byte, benchUsers)
		for i := range keys {
			keys[i] = must[runtime.Ref](b)(users.Row(ids[i]).LastSeenUs().Ref()).Key()
		}
		var vb [16]byte
		for i := 0; b.Loop(); i++ {
			v := protowire.AppendVarint(protowire.AppendTag(vb[:0], 3, protowire.VarintType), uint64(i))
			if err := pdb.Set(keys[i%benchUsers], v, pebble.NoSync); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("entry/protoql", func(b *testing.B) {
		b.ReportAllocs()
		defer cpubench.Report(b)()
		for i := 0; b.Loop(); i++ {
			if err := users.Row(ids[i%benchUsers]).Sessions().Entry("session-03").ExpiresUs().Set(ctx, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("entry/raw", func(b *testing.B) {
		b.ReportAllocs()
		defer cpubench.Report(b)()
		keys := make([][]byte, benchUsers)
		for i := range keys {
			keys[i] = must[runtime.Ref](b)(users.Row(ids[i]).Sessions().Entry("session-03").Ref()).Key()
		}
		for i := 0; b.Loop(); i++ {
			k := keys[i%benchUsers]
			val, closer, err := pdb.Get(k)
			if err != nil {
				b.Fatal(err)
			}
			var s testpb.Session
			err = proto.Unmarshal(val, &s)
			_ = closer.Close()
			if err != nil {
				b.Fatal(err)
			}
			s.ExpiresUs = int64(i)
			out, err := proto.Marshal(&s)
			if err != nil {
				b.Fatal(err)
			}
			if err := pdb.Set(k, out, pebble.NoSync); err != nil {
				b.Fatal(err)
			}
		}
	})
}
