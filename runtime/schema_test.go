package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// socialSource returns the test schema's source with edits applied.
func socialSource(t *testing.T, edits ...string) string {
	t.Helper()
	raw, err := os.ReadFile("../internal/testproto/protoql/test/v1/social.proto")
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(src, edits[i]) {
			t.Fatalf("edit %q does not apply", edits[i])
		}
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	return src
}

func compileSocial(t *testing.T, src string) protoreflect.FileDescriptor {
	t.Helper()
	files, _, err := prototest.Compile(map[string]string{"protoql/test/v1/social.proto": src}, "protoql/test/v1/social.proto")
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

func dumpStore(t *testing.T, s kv.Store) string {
	t.Helper()
	var sb strings.Builder
	it, err := s.NewIter(context.Background(), kv.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Fprintf(&sb, "%x=%x\n", it.Key(), it.Value())
	}
	check(t, it.Error())
	return sb.String()
}

func TestStoredSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db := openDB(t, store)
	u := fullUser("alice")
	check(t, db.Put(ctx, must[runtime.Ref](t)(table(t, db, "User").RowOf(u)), u))
	before := dumpStore(t, store)

	incompatible := []struct{ name, from, to, want string }{
		{"breakout to inline", "int64 last_seen_us = 3 [(protoql.v1.field).breakout = true];", "int64 last_seen_us = 3;", "User field 3 (last_seen_us) moved from breakout to inline storage"},
		{"key type", "uint32 shard = 2;", "int32 shard = 2;", "key column 2 changed from field 2 (uint32) to field 2 (int32)"},
		{"map key direction", "map<int64, Point> points = 3 [(protoql.v1.field).descending = true];", "map<int64, Point> points = 3;", "changed its map key from ~int64 to int64"},
	}
	for _, tt := range incompatible {
		fd := compileSocial(t, socialSource(t, tt.from, tt.to))
		_, err := runtime.Open(ctx, store, runtime.WithSchema(fd))
		if !errors.Is(err, schema.ErrIncompatible) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Open got %v, want an ErrIncompatible containing %q", tt.name, err, tt.want)
		}
		if after := dumpStore(t, store); after != before {
			t.Errorf("%s: a refused Open changed the store", tt.name)
		}
	}

	// A compatible change (new field, new table, rename) opens and is stored.
	fd := compileSocial(t, socialSource(t,
		"  map<int64, string> scores = 15", "  string motto = 16;\n  map<int64, string> scores = 15",
		"message Point {", "message Extra {\n  option (protoql.v1.table) = {id: 9};\n  string x = 1;\n}\n\nmessage Point {",
		"uint64 registered = 2;", "uint64 registered_at = 2;"))
	if _, err := runtime.Open(ctx, store, runtime.WithSchema(fd)); err != nil {
		t.Fatalf("compatible schema: %v", err)
	}

	// Opened with no schema, the DB describes itself: the stored (newest)
	// schema, with dynamic messages.
	self, err := runtime.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if self.Catalog().Table(9) == nil {
		t.Errorf("stored schema lacks the table added by the compatible open")
	}
	users := table(t, self, "User")
	dyn := dynamicpb.NewMessage(users.Schema().Desc)
	check(t, self.Get(ctx, must[runtime.Ref](t)(users.Row(str("alice"))), dyn))
	raw := must[[]byte](t)(proto.Marshal(dyn))
	got := &testpb.User{}
	check(t, proto.Unmarshal(raw, got))
	wantEqual(t, "row read through the stored schema", u, got)
}

func TestOpenWithoutAnySchema(t *testing.T) {
	_, err := runtime.Open(context.Background(), memkv.New())
	if !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Open of an empty store without schema: got %v, want ErrInvalid", err)
	}
}

func TestCorruption(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	db := openDB(t, store)
	users := table(t, db, "User")
	ref := must[runtime.Ref](t)(users.Row(str("c")))
	key := func(suffix ...byte) []byte { return append(append([]byte{}, ref.Key()...), suffix...) }
	tests := []struct {
		name       string
		key, value []byte
		want       string
	}{
		{"unknown child field", key(0x70), nil, "no field 7 of key kind unit"},
		{"truncated element", key(0x54, 0x61), nil, "tuple: offset"},
		{"value holds a breakout field", ref.Key(), []byte{0x18, 0x01}, "value holds field 3 (last_seen_us), which is stored as breakout"},
		{"value wire type", ref.Key(), []byte{0x15, 0, 0, 0, 0}, "value holds field 2 (registered) with wire type 5"},
		{"malformed value", ref.Key(), []byte{0x3a, 0x05}, "malformed value"},
		{"breakout value of another field", key(0x30), []byte{0x20, 0x01}, "value holds field 4 with wire type 0, want field 3"},
		{"breakout with keys below", key(0x30, 0x30), nil, "holds no keys below it"},
		{"bad utf-8 in a string", ref.Key(), []byte{0x3a, 0x01, 0xff}, "does not parse"},
	}
	for _, tt := range tests {
		b := kv.NewBatch()
		check(t, b.DeleteRange(ref.Key(), append(ref.Key(), 0xff)))
		check(t, b.Set(tt.key, tt.value))
		check(t, store.Apply(ctx, b))
		err := db.Get(ctx, ref, &testpb.User{})
		var ce *runtime.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, runtime.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want a CorruptError containing %q", tt.name, err, tt.want)
			continue
		}
		if string(ce.Key) != string(tt.key) {
			t.Errorf("%s: error names key %x, want %x", tt.name, ce.Key, tt.key)
		}
	}
}

func TestReopenSameSchemaWritesNothing(t *testing.T) {
	store := kvcount.New(memkv.New())
	openDB(t, store)
	store.Reset()
	openDB(t, store)
	if c := store.Counts(); c.Sets+c.Deletes+c.DeleteRanges != 0 {
		t.Errorf("reopening with the stored schema wrote %d keys", c.Sets+c.Deletes+c.DeleteRanges)
	}
}
