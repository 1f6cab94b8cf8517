package runtime_test

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// putOpsBothWays returns the operations Put records for m at ref with the
// encoder's reads of generated structs (goPlan) and without them, each
// sorted (a Go map's entries come in random order either way).
func putOpsBothWays(ref runtime.Ref, m proto.Message) (fast, slow []kv.Op, ferr, serr error) {
	sorted := func(ops []kv.Op) []kv.Op {
		slices.SortStableFunc(ops, func(a, b kv.Op) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), bytes.Compare(a.Key, b.Key), bytes.Compare(a.Value, b.Value))
		})
		return ops
	}
	fast, ferr = runtime.PutOpsForTest(ref, m)
	runtime.SetGoReadForTest(false)
	defer runtime.SetGoReadForTest(true)
	slow, serr = runtime.PutOpsForTest(ref, m)
	return sorted(fast), sorted(slow), ferr, serr
}

// sameOps fails t unless the two encodings of m agree: the same error or
// none, and then exactly the same operations.
func sameOps(t *testing.T, what string, ref runtime.Ref, m proto.Message) {
	t.Helper()
	fast, slow, ferr, serr := putOpsBothWays(ref, m)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%s: with goPlan error %v, without %v", what, ferr, serr)
	}
	if len(fast) != len(slow) {
		t.Fatalf("%s: with goPlan %d operations, without %d", what, len(fast), len(slow))
	}
	for i := range fast {
		a, b := fast[i], slow[i]
		if a.Kind != b.Kind || !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) {
			t.Fatalf("%s: operation %d: with goPlan %v %x=%x, without %v %x=%x", what, i, a.Kind, a.Key, a.Value, b.Kind, b.Key, b.Value)
		}
	}
}

// TestGoReadMatchesProtoreflect: the encoder writes the same pairs, and
// refuses the same messages, whether it reads the fields stored under
// their own keys from the generated struct or through protoreflect.
func TestGoReadMatchesProtoreflect(t *testing.T) {
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	bad := fullUser("bad")
	bad.Sessions["\xff"] = &testpb.Session{} // a key that is not UTF-8
	badValue := fullUser("badv")
	badValue.Sessions["s2"] = &testpb.Session{Device: "\xff"}
	cases := map[string]*testpb.User{
		"full":          fullUser("alice"),
		"empty":         {UserId: "e"},
		"empty maps":    {UserId: "m", Sessions: map[string]*testpb.Session{}, Threads: map[string]*testpb.ThreadRef{}, Password: &testpb.Password{}},
		"nil entry":     {UserId: "n", Sessions: map[string]*testpb.Session{"s": nil, "t": {ExpiresUs: 1}}},
		"bad key":       bad,
		"bad value":     badValue,
		"empty session": {UserId: "s", Sessions: map[string]*testpb.Session{"": {Attrs: map[string]string{}, Geo: &testpb.Geo{}}}},
	}
	for name, u := range cases {
		ref, err := users.RowOf(u)
		if err != nil {
			t.Fatal(err)
		}
		sameOps(t, name, ref, u)
		dyn := dynamicpb.NewMessage(u.ProtoReflect().Descriptor())
		proto.Merge(dyn, u)
		sameOps(t, name+" (dynamic)", ref, dyn)
	}
	// The fast path is taken: a Put of the full user allocates less with it.
	u := fullUser("allocs")
	ref := must[runtime.Ref](t)(users.RowOf(u))
	count := func() float64 {
		return testing.AllocsPerRun(50, func() {
			if _, err := runtime.PutOpsForTest(ref, u); err != nil {
				t.Fatal(err)
			}
		})
	}
	fast := count()
	runtime.SetGoReadForTest(false)
	slow := count()
	runtime.SetGoReadForTest(true)
	if fast >= slow {
		t.Fatalf("Put ops: %v allocations with goPlan, %v without", fast, slow)
	}
}

// FuzzGoRead checks the encoder's reads of generated structs against its
// reads through protoreflect on the rows of every table of the test
// schema, parsed from the fuzzer's bytes.
func FuzzGoRead(f *testing.F) {
	db := openDB(f, memkv.New())
	u := fullUser("fuzz")
	f.Add(must[[]byte](f)(proto.Marshal(u)))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.User{UserId: "x", Sessions: map[string]*testpb.Session{"a": {Geo: &testpb.Geo{}}, "b": {Attrs: map[string]string{"k": ""}}}})))
	f.Add([]byte{0x0a, 0x01, 'u', 0x32, 0x03, 0x0a, 0x01, 's'})
	tables := db.Catalog().Tables
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tb := range tables {
			m := db.NewMessage(tb.Desc)
			if !unmarshals(data, m) {
				continue
			}
			tab, err := db.Table(string(tb.Desc.Name()))
			if err != nil {
				t.Fatal(err)
			}
			ref, err := tab.RowOf(m.Interface())
			if err != nil {
				continue // a key the table refuses
			}
			sameOps(t, fmt.Sprintf("%s %x", tb.Desc.FullName(), data), ref, m.Interface())
		}
	})
}
