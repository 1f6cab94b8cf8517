package runtime_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestInlinePlanTwoOneofs: a row with two oneofs declared in the opposite
// order of their members' numbers. Marshal (its legacy field order) writes
// the members of different oneofs by the oneofs' declaration order, not by
// number; the inline plan must write the same bytes.
func TestInlinePlanTwoOneofs(t *testing.T) {
	topts := &descriptorpb.MessageOptions{}
	proto.SetExtension(topts, protoqlv1.E_Table, &protoqlv1.TableOptions{Id: 32, Key: []string{"id"}})
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	field := func(name string, num int32, oneof *int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: opt, Type: str, JsonName: proto.String(name), OneofIndex: oneof}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("twooneofs/w.proto"), Package: proto.String("twooneofs"), Syntax: proto.String("proto3"),
		Dependency: []string{"protoql/v1/options.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("W"), Options: topts,
			Field:     []*descriptorpb.FieldDescriptorProto{field("id", 1, nil), field("c", 2, nil), field("a", 10, proto.Int32(0)), field("b", 5, proto.Int32(1))},
			OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("first")}, {Name: proto.String("second")}},
		}},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	db, err := runtime.Open(context.Background(), memkv.New(), runtime.WithSchema(fd))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := db.Table("twooneofs.W")
	if err != nil {
		t.Fatal(err)
	}
	n := tb.Schema().Root
	md := fd.Messages().ByName("W")
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("c"), protoreflect.ValueOfString("c"))
	m.Set(md.Fields().ByName("a"), protoreflect.ValueOfString("a"))
	m.Set(md.Fields().ByName("b"), protoreflect.ValueOfString("b"))
	planned, shelled, ok, perr, serr := runtime.InlineEncodings(n, m)
	if !ok || perr != nil || serr != nil {
		t.Fatalf("hasPlan %v, plan error %v, shell error %v", ok, perr, serr)
	}
	if !bytes.Equal(planned, shelled) {
		t.Errorf("plan wrote %x, Marshal of the shell %x", planned, shelled)
	}
}
