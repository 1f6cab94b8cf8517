package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// highMapFile is a table V (key id) with a map m at field mapNum whose Item
// values (tag inline, note breakout) have a map-scoped index by_tag. At
// 20000 the map sorts after its index entries (field 19000), so the map is
// the last thing in its row's range.
func highMapFile(t *testing.T, pkg string, mapNum int32) protoreflect.FileDescriptor {
	t.Helper()
	topts := &descriptorpb.MessageOptions{}
	proto.SetExtension(topts, protoqlv1.E_Table, &protoqlv1.TableOptions{Id: 31, Key: []string{"id"}})
	mopts := &descriptorpb.FieldOptions{}
	proto.SetExtension(mopts, protoqlv1.E_Field, &protoqlv1.FieldOptions{Index: []*protoqlv1.Index{{Name: "by_tag", Id: 1, Fields: []string{"tag"}}}})
	bopts := &descriptorpb.FieldOptions{}
	proto.SetExtension(bopts, protoqlv1.E_Field, &protoqlv1.FieldOptions{Breakout: true})
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	field := func(name string, num int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: opt, Type: str, JsonName: proto.String(name)}
	}
	m := field("m", mapNum)
	m.Label, m.Type, m.TypeName, m.Options = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), proto.String("."+pkg+".V.MEntry"), mopts
	val := field("value", 2)
	val.Type, val.TypeName = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), proto.String("."+pkg+".Item")
	note := field("note", 2)
	note.Options = bopts
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String(pkg + "/v.proto"), Package: proto.String(pkg), Syntax: proto.String("proto3"),
		Dependency: []string{"protoql/v1/options.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("V"), Options: topts,
			Field: []*descriptorpb.FieldDescriptorProto{field("id", 1), m},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("MEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				Field: []*descriptorpb.FieldDescriptorProto{field("key", 1), val},
			}},
		}, {
			Name:  proto.String("Item"),
			Field: []*descriptorpb.FieldDescriptorProto{field("tag", 1), note},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestMapIndexLastInRow: rows a, b and c each hold one entry of m, tagged
// x, without a note. A query through m's index over every row must return
// all three. With the map last in its row, the batched lookup once ended
// the row scan when the seek for the missing note found the prefetched
// span empty up to the end of the row, and returned only a.
func TestMapIndexLastInRow(t *testing.T) {
	for _, num := range []int32{3, 20000} {
		for _, eng := range []string{"memkv", "pebble"} {
			t.Run(fmt.Sprintf("field%d/%s", num, eng), func(t *testing.T) {
				ctx := context.Background()
				pkg := fmt.Sprintf("hm%d%s", num, eng)
				fd := highMapFile(t, pkg, num)
				var st kv.Store = memkv.New()
				if eng == "pebble" {
					ps, err := pebblekv.Open(t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					defer ps.Close()
					st = ps
				}
				db, err := runtime.Open(ctx, st, runtime.WithSchema(fd))
				if err != nil {
					t.Fatal(err)
				}
				tb, err := db.Table(pkg + ".V")
				if err != nil {
					t.Fatal(err)
				}
				md := fd.Messages().ByName("V")
				imd := fd.Messages().ByName("Item")
				for _, id := range []string{"a", "b", "c"} {
					row := dynamicpb.NewMessage(md)
					row.Set(md.Fields().ByName("id"), protoreflect.ValueOfString(id))
					item := dynamicpb.NewMessage(imd)
					item.Set(imd.Fields().ByName("tag"), protoreflect.ValueOfString("x"))
					mp := row.Mutable(md.Fields().ByName("m")).Map()
					mp.Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfMessage(item))
					ref, err := tb.Row(protoreflect.ValueOfString(id))
					if err != nil {
						t.Fatal(err)
					}
					if err := db.Put(ctx, ref, row); err != nil {
						t.Fatal(err)
					}
				}
				for _, text := range []string{`V { id, m.by_tag["x"] { tag, note } }`, `V { id, m { tag, note } }`} {
					q, err := query.Compile(db.Catalog(), text)
					if err != nil {
						t.Fatal(err)
					}
					var ids []string
					for r, err := range db.Query(ctx, q, nil) {
						if err != nil {
							t.Fatalf("%s: %v", text, err)
						}
						m := r.Msg.ProtoReflect()
						ids = append(ids, m.Get(m.Descriptor().Fields().ByName("id")).String())
					}
					if len(ids) != 3 {
						t.Errorf("%s: rows %q, want a, b, c", text, ids)
					}
				}
			})
		}
	}
}
