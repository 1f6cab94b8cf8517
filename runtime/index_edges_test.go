package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// indexRows runs text on db and returns how many rows it found.
func indexRows(t *testing.T, db *runtime.DB, text string) int {
	t.Helper()
	q, err := query.Compile(db.Catalog(), text)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range db.Query(context.Background(), q, nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestIndexPutGeneratedOnStoredSchema puts a generated message on a DB
// opened from its stored schema (as the CLI and the server open it), whose
// descriptors are not the generated type's: the index entries are computed
// all the same (this panicked once).
func TestIndexPutGeneratedOnStoredSchema(t *testing.T) {
	ctx := context.Background()
	st := memkv.New()
	if _, err := runtime.Open(ctx, st, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto)); err != nil {
		t.Fatal(err)
	}
	db, err := runtime.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := db.Table("protoql.test.v1.Account")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tb.Row(protoreflect.ValueOfString("o"), protoreflect.ValueOfUint64(1))
	if err != nil {
		t.Fatal(err)
	}
	a := &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("e@x"), Tasks: map[string]*testpb.Task{"t": {Slug: proto.String("s")}}}
	if err := db.Put(ctx, ref, a); err != nil {
		t.Fatal(err)
	}
	if n := indexRows(t, db, `Account.by_email["e@x"] { name }`); n != 1 {
		t.Errorf("by_email finds %d rows, want 1", n)
	}
	if n := indexRows(t, db, `Account["o", 1] { tasks.by_slug["s"] { text } }`); n != 1 {
		t.Errorf("tasks.by_slug finds %d rows, want 1", n)
	}
}

// apartIndexedFile is a table with a unique index and a map stored apart.
func apartIndexedFile(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	topts := &descriptorpb.MessageOptions{}
	proto.SetExtension(topts, protoqlv1.E_Table, &protoqlv1.TableOptions{Id: 30, Key: []string{"id"},
		Index: []*protoqlv1.Index{{Name: "by_name", Id: 1, Fields: []string{"name"}, Unique: true}}})
	fopts := &descriptorpb.FieldOptions{}
	proto.SetExtension(fopts, protoqlv1.E_Field, &protoqlv1.FieldOptions{Apart: true})
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	field := func(name string, num int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: opt, Type: str, JsonName: proto.String(name)}
	}
	m := field("m", 3)
	m.Label, m.Type, m.TypeName, m.Options = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), proto.String(".zz.U.MEntry"), fopts
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("zz/u.proto"), Package: proto.String("zz"), Syntax: proto.String("proto3"),
		Dependency: []string{"protoql/v1/options.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("U"), Options: topts,
			Field: []*descriptorpb.FieldDescriptorProto{field("id", 1), field("name", 2), m},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("MEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				Field: []*descriptorpb.FieldDescriptorProto{field("key", 1), field("value", 2)},
			}},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestIndexApartCreatesRow: a write under an apart field of a missing row
// creates the row, which enters its indexes with its default values, so a
// unique index refuses a second row with the same (default) value.
func TestIndexApartCreatesRow(t *testing.T) {
	ctx := context.Background()
	fd := apartIndexedFile(t)
	db, err := runtime.Open(ctx, memkv.New(), runtime.WithSchema(fd))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := db.Table("zz.U")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tb.Row(protoreflect.ValueOfString("x"))
	mref, err := x.FieldByName("m")
	if err != nil {
		t.Fatal(err)
	}
	e, err := mref.Entry(protoreflect.ValueOfString("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetValue(ctx, e, protoreflect.ValueOfString("v")); err != nil {
		t.Fatal(err)
	}
	if n := indexRows(t, db, `U.by_name[""] { id }`); n != 1 {
		t.Fatalf("by_name[\"\"] finds %d rows after the apart write created row x, want 1", n)
	}
	md := fd.Messages().ByName("U")
	y := dynamicpb.NewMessage(md)
	y.Set(md.Fields().ByName("id"), protoreflect.ValueOfString("y"))
	yref, _ := tb.Row(protoreflect.ValueOfString("y"))
	if err := db.Put(ctx, yref, y); !errors.Is(err, runtime.ErrUniqueViolation) {
		t.Errorf("Put of y with x's name: %v, want ErrUniqueViolation", err)
	}
}

// TestIndexMapEntryMissing deletes a map entry with the raw store, leaving
// its map-scoped index entry dangling: a query and the typed handle
// reading through the index report corruption naming the missing entry,
// as they do for a missing row.
func TestIndexMapEntryMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db, acc := openIndexed(t)
	a := &testpb.Account{Org: "o", AccountId: 1,
		Tasks: map[string]*testpb.Task{"t": {Text: "a", Done: true}, "u": {Text: "b", Done: true}}}
	if err := acc.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	s := acc.Table().Schema()
	rk := s.RowKeyOf(nil, a.ProtoReflect())
	tasks := s.Root.Field(9)
	gone := tasks.Key.Append(append([]byte(nil), rk...), protoreflect.ValueOfString("t"))
	b := kv.NewBatch()
	if err := b.DeleteRange(gone, tuple.PrefixEnd(gone)); err != nil {
		t.Fatal(err)
	}
	if err := db.Store().Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		var ce *runtime.CorruptError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprintf("%x", gone)) || !strings.Contains(err.Error(), "by_done") {
			t.Errorf("%s: got %v, want a CorruptError naming %x and the index", what, err, gone)
		}
	}
	for _, text := range []string{
		`Account["o", 1] { tasks.by_done[true] { text } }`,
		`Account["o", 1] { tasks.by_done[true] }`,
	} {
		q, err := query.Compile(db.Catalog(), text)
		if err != nil {
			t.Fatal(err)
		}
		var last error
		for _, err := range db.Query(ctx, q, nil) {
			if err != nil {
				last = err
			}
		}
		check(text, last)
	}
	var last error
	for _, err := range acc.Row(testpb.AccountKey{Org: "o", AccountId: 1}).TasksByDone().Scan(ctx, nil, runtime.ScanOptions{}) {
		if err != nil {
			last = err
		}
	}
	check("TasksByDone().Scan", last)
}

// TestIndexUniqueEntryDangling: a unique index's Get reads its entry with a
// point read; an entry naming a row that is gone is corruption, not a
// missing value.
func TestIndexUniqueEntryDangling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, db, acc := openIndexed(t)
	a := &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("a@x")}
	if err := acc.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	rk := acc.Table().Schema().RowKeyOf(nil, a.ProtoReflect())
	b := kv.NewBatch()
	if err := b.DeleteRange(rk, tuple.PrefixEnd(rk)); err != nil {
		t.Fatal(err)
	}
	if err := db.Store().Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	_, err := acc.ByEmail().Get(ctx, "a@x")
	var ce *runtime.CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprintf("%x", rk)) || !strings.Contains(err.Error(), "by_email") {
		t.Errorf("ByEmail().Get of a dangling entry: got %v, want a CorruptError naming %x and the index", err, rk)
	}
}

// twoUniqueFile is a table with two unique indexes, declared by_b (id 2)
// before by_a (id 1), so that declaration order and id order differ.
func twoUniqueFile(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	topts := &descriptorpb.MessageOptions{}
	proto.SetExtension(topts, protoqlv1.E_Table, &protoqlv1.TableOptions{Id: 31, Key: []string{"id"},
		Index: []*protoqlv1.Index{
			{Name: "by_b", Id: 2, Fields: []string{"b"}, Unique: true},
			{Name: "by_a", Id: 1, Fields: []string{"a"}, Unique: true},
		}})
	field := func(name string, num int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), JsonName: proto.String(name)}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("zz/v.proto"), Package: proto.String("zz"), Syntax: proto.String("proto3"),
		Dependency: []string{"protoql/v1/options.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("V"), Options: topts,
			Field: []*descriptorpb.FieldDescriptorProto{field("id", 1), field("a", 2), field("b", 3)},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestUniqueViolationOrder pins which violation a write that breaks two
// unique indexes reports: the first of its new entries in write order, an
// object's indexes in the order the schema declares them (not by id); and a
// write that gives two of its own objects the same values reports that
// first, before any clash with stored rows (runtime's package doc).
func TestUniqueViolationOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fd := twoUniqueFile(t)
	db, err := runtime.Open(ctx, memkv.New(), runtime.WithSchema(fd))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := db.Table("zz.V")
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().ByName("V")
	put := func(id, a, b string) error {
		m := dynamicpb.NewMessage(md)
		m.Set(md.Fields().ByName("id"), protoreflect.ValueOfString(id))
		m.Set(md.Fields().ByName("a"), protoreflect.ValueOfString(a))
		m.Set(md.Fields().ByName("b"), protoreflect.ValueOfString(b))
		ref, err := tb.Row(protoreflect.ValueOfString(id))
		if err != nil {
			t.Fatal(err)
		}
		return db.Put(ctx, ref, m)
	}
	if err := put("1", "x", "y"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // the same answer every time
		err := put("2", "x", "y")
		if !errors.Is(err, runtime.ErrUniqueViolation) || !strings.Contains(err.Error(), `index V.by_b: (b="y")`) {
			t.Fatalf("try %d: a row breaking by_b and by_a: %v, want by_b's violation (declared first)", i, err)
		}
	}
	if err := put("2", "x", "z"); !errors.Is(err, runtime.ErrUniqueViolation) || !strings.Contains(err.Error(), `index V.by_a: (a="x")`) {
		t.Errorf("a row breaking by_a only: %v, want by_a's violation", err)
	}

	// A row whose email another row holds and whose own tasks share a
	// slug: the row comes first in write order, but the clash inside the
	// write is the one reported.
	_, _, acc := openIndexed(t)
	if err := acc.Put(ctx, &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("e")}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		err := acc.Put(ctx, &testpb.Account{Org: "o", AccountId: 2, Email: proto.String("e"),
			Tasks: map[string]*testpb.Task{"t1": {Slug: proto.String("s")}, "t2": {Slug: proto.String("s")}}})
		if !errors.Is(err, runtime.ErrUniqueViolation) || !strings.Contains(err.Error(), `Account.tasks.by_slug: (slug="s")`) {
			t.Fatalf("try %d: %v, want the violation of tasks.by_slug within the write", i, err)
		}
	}
}
