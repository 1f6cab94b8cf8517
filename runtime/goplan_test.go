package runtime_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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
// schema and of the nested-maps schema, parsed from the fuzzer's bytes.
func FuzzGoRead(f *testing.F) {
	dbs := []*runtime.DB{openDB(f, memkv.New()), openNested(f)}
	u := fullUser("fuzz")
	f.Add(must[[]byte](f)(proto.Marshal(u)))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.User{UserId: "x", Sessions: map[string]*testpb.Session{"a": {Geo: &testpb.Geo{}}, "b": {Attrs: map[string]string{"k": ""}}}})))
	f.Add([]byte{0x0a, 0x01, 'u', 0x32, 0x03, 0x0a, 0x01, 's'})
	f.Add(must[[]byte](f)(proto.Marshal(nestedTree())))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, db := range dbs {
			for _, tb := range db.Catalog().Tables {
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
		}
	})
}

// openNested opens a DB of the nested-maps schema (nested.proto).
func openNested(t testing.TB) *runtime.DB {
	t.Helper()
	return must[*runtime.DB](t)(runtime.Open(context.Background(), memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_nested_proto)))
}

// nestedTree returns a Tree whose branches hold leaves, nil ones among
// them.
func nestedTree() *testpb.Tree {
	tree := &testpb.Tree{
		TreeId:   "oak",
		Title:    "an oak",
		Trunk:    &testpb.Branch{Name: "trunk", Leaves: map[string]*testpb.Leaf{"t": {Size: 1}}},
		Branches: map[string]*testpb.Branch{"none": nil, "empty": {Leaves: map[string]*testpb.Leaf{}}},
	}
	for b := range 6 {
		br := &testpb.Branch{Name: fmt.Sprint("b", b), Leaves: map[string]*testpb.Leaf{}}
		for l := range b {
			br.Leaves[fmt.Sprint("l", l)] = &testpb.Leaf{Size: int64(10*b + l), Color: "green"}
		}
		br.Leaves["nil"] = nil
		tree.Branches[br.Name] = br
	}
	return tree
}

// TestGoReadNestedMaps: a map of string keys to messages whose values hold
// such a map of their own is read from the Go structs at both levels, the
// inner map's entries iterated inside the outer's: the encoder writes the
// same pairs as through protoreflect, and the tree reads back whole.
func TestGoReadNestedMaps(t *testing.T) {
	ctx := context.Background()
	db := openNested(t)
	trees := table(t, db, "Tree")
	tree := nestedTree()
	ref := must[runtime.Ref](t)(trees.RowOf(tree))
	sameOps(t, "nested", ref, tree)
	bad := proto.Clone(tree).(*testpb.Tree)
	bad.Branches["b3"].Leaves["\xff"] = &testpb.Leaf{}
	sameOps(t, "nested, an inner key that is not UTF-8", ref, bad)

	check(t, db.Put(ctx, ref, tree))
	got := new(testpb.Tree)
	check(t, db.Get(ctx, ref, got))
	// What a read gives back: a nil message value is an empty one.
	want := proto.Clone(tree).(*testpb.Tree)
	want.Branches["none"] = &testpb.Branch{}
	for _, br := range want.Branches {
		if _, ok := br.Leaves["nil"]; ok {
			br.Leaves["nil"] = &testpb.Leaf{}
		}
	}
	if !proto.Equal(got, want) {
		t.Fatalf("read back %v, want %v", got, want)
	}
}

// oddUser is a message of User's descriptor that protoc-gen-go did not
// generate: its ProtoReflect reads and writes u, while its Go struct (what
// ProtoReflect().Interface() returns) holds a map and a message field
// under the protobuf tags of generated code, one exported and holding
// something else than u's, one unexported (reflect refuses to hand out
// what it holds: a panic). The encoder must read it through protoreflect.
type oddUser struct {
	Sessions map[string]*testpb.Session `protobuf:"bytes,5,rep,name=sessions,proto3"`
	password *testpb.Password           `protobuf:"bytes,4,opt,name=password,proto3"`
	u        *testpb.User
}

type oddReflect struct {
	protoreflect.Message
	o *oddUser
}

func (r oddReflect) Interface() protoreflect.ProtoMessage { return r.o }
func (o *oddUser) ProtoReflect() protoreflect.Message     { return oddReflect{o.u.ProtoReflect(), o} }

// TestGoReadOtherStructs: the encoder reads the fields of a struct that
// protoc-gen-go did not generate through protoreflect (what the message
// says it holds), not from the struct, and does not panic on unexported
// fields.
func TestGoReadOtherStructs(t *testing.T) {
	db := openDB(t, memkv.New())
	users := table(t, db, "User")
	u := fullUser("odd")
	o := &oddUser{Sessions: map[string]*testpb.Session{"not u's": {ExpiresUs: 7}}, password: &testpb.Password{ChangedUs: 8}, u: u}
	ref := must[runtime.Ref](t)(users.RowOf(o))
	sameOps(t, "another struct", ref, o)
	odd, _, err, _ := putOpsBothWays(ref, o)
	check(t, err)
	want, _, err, _ := putOpsBothWays(ref, u)
	check(t, err)
	if len(odd) != len(want) {
		t.Fatalf("%d operations for the odd user, %d for the user it reads", len(odd), len(want))
	}
	for i := range odd {
		if a, b := odd[i], want[i]; a.Kind != b.Kind || !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) {
			t.Fatalf("operation %d: %v %x=%x for the odd user, %v %x=%x for the user it reads", i, a.Kind, a.Key, a.Value, b.Kind, b.Key, b.Value)
		}
	}
}
