package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
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
// for a User with 10 sessions on unsynced Pebble (the fsync would dominate
// and measure the disk, not protoql).
func BenchmarkPebble(b *testing.B) {
	ctx := context.Background()
	db := openDB(b, openPebble(b))
	users := table(b, db, "User")
	u := userWithSessions("alice", 10)
	ref := must[runtime.Ref](b)(users.RowOf(u))
	check(b, db.Put(ctx, ref, u))
	b.Run("Put", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := db.Put(ctx, ref, u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		got := &testpb.User{}
		for b.Loop() {
			if err := db.Get(ctx, ref, got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SetMapEntry", func(b *testing.B) {
		b.ReportAllocs()
		entry := must[runtime.Ref](b)(must[runtime.Ref](b)(ref.Field(5)).Entry(protoreflect.ValueOfString("session-03")))
		s := &testpb.Session{ExpiresUs: 1}
		for b.Loop() {
			if err := db.Put(ctx, entry, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SetBreakout", func(b *testing.B) {
		b.ReportAllocs()
		last := must[runtime.Ref](b)(ref.Field(3))
		for i := 0; b.Loop(); i++ {
			if err := db.SetValue(ctx, last, protoreflect.ValueOfInt64(int64(i))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
