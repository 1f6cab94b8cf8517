package runtime_test

import (
	"context"
	"fmt"
	"iter"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func userWithSessions(id string, n int) *testpb.User {
	u := &testpb.User{UserId: id, Registered: 1700000000, LastSeenUs: 1700000000000000, Sessions: map[string]*testpb.Session{}}
	for i := range n {
		u.Sessions[fmt.Sprintf("session-%02d", i)] = &testpb.Session{ExpiresUs: int64(i) << 30, Device: "phone"}
	}
	return u
}

// BenchmarkPebble measures the typed-path costs DESIGN.md §8 talks about,
// for Users with 10 sessions on unsynced Pebble (the fsync would measure the
// disk, not protoql). Each operation goes to the next of benchUsers rows: an
// LSM keeps every overwritten version of a key in its memtable until a flush,
// and a range read steps over them, so rewriting one row thousands of times
// would measure that garbage rather than protoql (see the README).
func BenchmarkPebble(b *testing.B) {
	const benchUsers = 10000
	ctx := context.Background()
	db := openDB(b, openPebble(b))
	users := table(b, db, "User")
	msgs := make([]*testpb.User, benchUsers)
	refs := make([]runtime.Ref, benchUsers)
	for i := range msgs {
		msgs[i] = userWithSessions(fmt.Sprintf("user-%05d", i), 10)
		refs[i] = must[runtime.Ref](b)(users.RowOf(msgs[i]))
		check(b, db.Put(ctx, refs[i], msgs[i]))
	}
	b.Run("Put", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := db.Put(ctx, refs[i%benchUsers], msgs[i%benchUsers]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		got := &testpb.User{}
		for i := 0; b.Loop(); i++ {
			if err := db.Get(ctx, refs[i%benchUsers], got); err != nil {
				b.Fatal(err)
			}
		}
	})
	sessions := must[runtime.Ref](b)(refs[0].Field(5))
	for _, reverse := range []bool{false, true} {
		name := map[bool]string{false: "", true: "Reverse"}[reverse]
		b.Run("Scan100"+name, func(b *testing.B) {
			benchCount(b, 100, func() iter.Seq2[proto.Message, error] {
				return db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{Limit: 100, Reverse: reverse})
			})
		})
		b.Run("ScanMap"+name, func(b *testing.B) {
			benchCount(b, 10, func() iter.Seq2[runtime.MapEntry, error] {
				return db.ScanMap(ctx, sessions, runtime.KeyRange{}, runtime.ScanOptions{Reverse: reverse})
			})
		})
	}
	b.Run("SetMapEntry", func(b *testing.B) {
		b.ReportAllocs()
		s := &testpb.Session{ExpiresUs: 1}
		for i := 0; b.Loop(); i++ {
			entry := must[runtime.Ref](b)(must[runtime.Ref](b)(refs[i%benchUsers].Field(5)).Entry(protoreflect.ValueOfString("session-03")))
			if err := db.Put(ctx, entry, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SetBreakout", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			last := must[runtime.Ref](b)(refs[i%benchUsers].Field(3))
			if err := db.SetValue(ctx, last, protoreflect.ValueOfInt64(int64(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchCount runs scan per operation and checks that it yields want
// results.
func benchCount[T any](b *testing.B, want int, scan func() iter.Seq2[T, error]) {
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range scan() {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != want {
			b.Fatalf("%d results, want %d", n, want)
		}
	}
}
