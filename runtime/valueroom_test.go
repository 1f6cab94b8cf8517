package runtime_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestValueRoom checks which Refs a setter encodes its value after the key
// for (Ref.valueRoom): a breakout field or scalar map entry whose value
// has a bounded size gets the room once, after its key, which stays as it
// was; a second claim through the same key finds the room taken, and
// values of unbounded size (string, bytes, message) and Refs that are not
// set by value get none.
func TestValueRoom(t *testing.T) {
	db := openDB(t, openPebble(t))
	users := table(t, db, "protoql.test.v1.User")
	row := must[runtime.Ref](t)(users.Row(str("u")))
	fieldRef := func(r runtime.Ref, name string) runtime.Ref {
		t.Helper()
		return must[runtime.Ref](t)(r.FieldByName(name))
	}

	breakout := fieldRef(row, "last_seen_us")
	key := bytes.Clone(breakout.Key())
	room := runtime.ValueRoomForTest(&breakout)
	switch {
	case room == nil:
		t.Fatal("an int64 breakout field got no room for its value")
	case len(room) != 0 || cap(room) < 11:
		t.Fatalf("room of length %d and capacity %d, want 0 and room for a tag and a varint", len(room), cap(room))
	}
	if got := runtime.ValueRoomForTest(&breakout); got != nil {
		t.Errorf("the room after the key was handed out twice")
	}
	// Fill the room to its capacity: the key before it must not change.
	_ = append(room, bytes.Repeat([]byte{0xff}, cap(room))...)
	if !bytes.Equal(breakout.Key(), key) || cap(breakout.Key()) != len(breakout.Key()) {
		t.Errorf("the key changed under its value's room: %x, want %x", breakout.Key(), key)
	}
	if got, want := fieldRef(row, "last_seen_us").Key(), runtime.SlowFieldKey(row, 3); !bytes.Equal(got, want) {
		t.Errorf("a key stepped into after the claim is %x, want %x", got, want)
	}

	counter := must[runtime.Ref](t)(fieldRef(row, "counters").Entry(str("c")))
	if runtime.ValueRoomForTest(&counter) == nil {
		t.Error("an int64 map entry got no room for its value")
	}
	for _, r := range []struct {
		name string
		ref  runtime.Ref
	}{
		{"the row", row},
		{"a string breakout field", fieldRef(row, "nickname")},
		{"a message breakout field", fieldRef(row, "settings")},
		{"a bytes map entry", must[runtime.Ref](t)(fieldRef(fieldRef(row, "password"), "history").Entry(str("h")))},
		{"a map", fieldRef(row, "counters")},
	} {
		if runtime.ValueRoomForTest(&r.ref) != nil {
			t.Errorf("%s got room for a value", r.name)
		}
	}
}

// TestSetValueRoomShared sets a breakout field through one handle from
// many goroutines at once and then again one by one: only one write can
// claim the room after the handle's key (Ref.valueRoom), the others encode
// their values elsewhere, and every write stores its own value under the
// same key. Under the race detector it fails if two writes share the
// room.
func TestSetValueRoomShared(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, openPebble(t))
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	for _, id := range []string{"a", "b"} {
		f := users.Row(id).LastSeenUs()
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if err := f.Set(ctx, int64(i)<<40); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := must[int64](t)(f.Get(ctx)); got&(1<<40-1) != 0 || got>>40 >= 8 {
			t.Errorf("%s: after concurrent Sets got %d, none of the values set", id, got)
		}
		for _, v := range []int64{-1, 1 << 62, 0, 300} {
			check(t, f.Set(ctx, v))
			if got := must[int64](t)(f.Get(ctx)); got != v {
				t.Errorf("%s: Set %d, got %d", id, v, got)
			}
		}
		ref := must[runtime.Ref](t)(f.Ref())
		want := runtime.SlowFieldKey(must[runtime.Ref](t)(users.Table().Row(protoreflect.ValueOfString(id))), 3)
		if !bytes.Equal(ref.Key(), want) {
			t.Errorf("%s: the handle's key became %x, want %x", id, ref.Key(), want)
		}
	}
}
