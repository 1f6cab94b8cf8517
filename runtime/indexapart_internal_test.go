package runtime

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestIndexReadReportsApartCloseError: a typed scan and Get through the
// index of a table with a map stored apart (no generated table has one:
// the index handle is made here over dynamic messages) end with the
// Close error of any iterator they open, the apart walkers' included.
func TestIndexReadReportsApartCloseError(t *testing.T) {
	ctx := context.Background()
	topts := &descriptorpb.MessageOptions{}
	proto.SetExtension(topts, protoqlv1.E_Table, &protoqlv1.TableOptions{Id: 30, Key: []string{"id"},
		Index: []*protoqlv1.Index{{Name: "by_name", Id: 1, Fields: []string{"name"}, Unique: true}}})
	fopts := &descriptorpb.FieldOptions{}
	proto.SetExtension(fopts, protoqlv1.E_Field, &protoqlv1.FieldOptions{Apart: true})
	field := func(name string, num int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), JsonName: proto.String(name),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()}
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
	store := kvtest.NewCloseFails(memkv.New())
	db, err := Open(ctx, store, WithSchema(fd))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := db.Table("zz.U")
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().ByName("U")
	for _, id := range []string{"x", "y"} {
		u := dynamicpb.NewMessage(md)
		u.Set(md.Fields().ByName("id"), protoreflect.ValueOfString(id))
		u.Set(md.Fields().ByName("name"), protoreflect.ValueOfString("name "+id))
		u.Mutable(md.Fields().ByName("m")).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString("v"))
		ref, err := tb.RowOf(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(ctx, ref, u); err != nil {
			t.Fatal(err)
		}
	}
	byName := TableIndex[string, *dynamicpb.Message]{t: tb, q: db, ix: tb.s.Index("by_name")}
	for _, c := range []struct {
		name string
		op   func() error
	}{
		{"Scan", func() error {
			n := 0
			for m, err := range byName.Scan(ctx, nil, ScanOptions{}) {
				if err != nil {
					return err
				}
				if m.Get(md.Fields().ByName("m")).Map().Len() != 1 {
					t.Fatalf("Scan: a row without its apart map")
				}
				n++
			}
			if n != 2 {
				t.Fatalf("Scan: %d rows, want 2", n)
			}
			return nil
		}},
		{"Get", func() error { _, err := byName.Get(ctx, "name y"); return err }},
	} {
		store.Fail.Store(false)
		from := store.Opened()
		if err := c.op(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		iters := store.Opened() - from
		if iters < 2 {
			t.Fatalf("%s opened %d iterators; want the objects' and the apart map's at least", c.name, iters)
		}
		store.Fail.Store(true)
		for i := range iters {
			store.FailOnly.Store(store.Opened() + i + 1)
			if err := c.op(); !errors.Is(err, kvtest.ErrCloseFailed) {
				t.Errorf("%s, iterator %d of %d failing to close: error %v, want %v", c.name, i+1, iters, err, kvtest.ErrCloseFailed)
			}
		}
		store.FailOnly.Store(0)
	}
}
