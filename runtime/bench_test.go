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
	b.Run("Scan100", func(b *testing.B) { benchScan(b, db, users, runtime.ScanOptions{Limit: 100}) })
	b.Run("Scan100Reverse", func(b *testing.B) { benchScan(b, db, users, runtime.ScanOptions{Limit: 100, Reverse: true}) })
	sessions := must[runtime.Ref](b)(refs[0].Field(5))
	b.Run("ScanMap", func(b *testing.B) { benchScanMap(b, db, sessions, runtime.ScanOptions{}) })
	b.Run("ScanMapReverse", func(b *testing.B) { benchScanMap(b, db, sessions, runtime.ScanOptions{Reverse: true}) })
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

// benchScan reads 100 rows of users per operation.
func benchScan(b *testing.B, db *runtime.DB, users *runtime.Table, opts runtime.ScanOptions) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		n := 0
		for _, err := range db.Scan(ctx, users, runtime.KeyRange{}, opts) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != opts.Limit {
			b.Fatalf("%d rows, want %d", n, opts.Limit)
		}
	}
}

// benchScanMap reads the 10 entries of a user's sessions map per operation.
func benchScanMap(b *testing.B, db *runtime.DB, sessions runtime.Ref, opts runtime.ScanOptions) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		n := 0
		for _, err := range db.ScanMap(ctx, sessions, runtime.KeyRange{}, opts) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 10 {
			b.Fatalf("%d entries, want 10", n)
		}
	}
}
