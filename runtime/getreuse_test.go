package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestGetDecodedEntriesStartZero reads, in turn, a row whose sessions set
// every field the entry plan decodes and one whose sessions are empty:
// the second row's sessions must come back empty. A whole-row Get decodes
// the entries of its message maps into a slab the pooled execution keeps
// (direct.go: one that grew, or that fill copied out of), which
// clearDecoded zeroes for the next row; a value left unzeroed would give
// the empty sessions the other row's fields.
func TestGetDecodedEntriesStartZero(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	// Ten entries (a slab of eight grows, and is kept), then fewer in
	// the kept slab: clearDecoded clears the whole slab when at least
	// half of it is used, else value by value.
	for _, n := range []int{10, 8, 5, 3, 1} {
		full := &testpb.User{UserId: fmt.Sprintf("full%d", n), Sessions: map[string]*testpb.Session{}}
		empty := &testpb.User{UserId: fmt.Sprintf("empty%d", n), Sessions: map[string]*testpb.Session{}}
		for i := range n {
			id := fmt.Sprintf("s%02d", i)
			full.Sessions[id] = &testpb.Session{ExpiresUs: int64(i + 1), Device: "device " + id}
			empty.Sessions[id] = &testpb.Session{}
		}
		for _, u := range []*testpb.User{full, empty} {
			check(t, db.Put(ctx, must[runtime.Ref](t)(users.RowOf(u)), u))
		}
		// The pool may drop an execution (under -race it does so at
		// random): read the pair several times.
		for round := range 20 {
			for _, want := range []*testpb.User{full, empty} {
				got := &testpb.User{}
				check(t, db.Get(ctx, must[runtime.Ref](t)(users.Row(str(want.UserId))), got))
				if !proto.Equal(got, want) {
					t.Fatalf("%d sessions, round %d: Get(%s) = %v, want %v", n, round, want.UserId, got, want)
				}
			}
		}
	}
}
