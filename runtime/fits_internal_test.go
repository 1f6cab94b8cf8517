package runtime

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// scalarKindsMessage returns a message with one singular and one repeated
// field of every scalar kind, for checks of a Go type against each.
func scalarKindsMessage(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	var fields []*descriptorpb.FieldDescriptorProto
	num := int32(1)
	for typ := range descriptorpb.FieldDescriptorProto_Type_name {
		tp := descriptorpb.FieldDescriptorProto_Type(typ)
		switch tp {
		case descriptorpb.FieldDescriptorProto_TYPE_GROUP, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, descriptorpb.FieldDescriptorProto_TYPE_ENUM:
			continue
		}
		for _, label := range []descriptorpb.FieldDescriptorProto_Label{descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED} {
			fields = append(fields, &descriptorpb.FieldDescriptorProto{
				Name: proto.String(fmt.Sprintf("f%d", num)), Number: proto.Int32(num), Type: tp.Enum(), Label: label.Enum(),
			})
			num++
		}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("fits_test.proto"), Package: proto.String("fitstest"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Kinds"), Field: fields}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().Get(0)
}

// fitsByValue answers fits from outside the runtime's checks: whether
// protobuf-go's dynamic message takes T's zero value for fd (it panics on
// a value of another type).
func fitsByValue[T any](fd protoreflect.FieldDescriptor) (ok bool) {
	if fd.IsList() || fd.IsMap() {
		return false
	}
	var zero T
	v, err := valueOf(zero)
	if err != nil {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dynamicpb.NewMessage(fd.ContainingMessage()).Set(fd, v)
	return true
}

// TestFitsScalarKinds checks that fits, which answers for the Go scalar
// types from the type alone (scalarFits), agrees with protobuf-go's own type check
// of the type's values for every scalar kind, singular and repeated: a wrong yes
// would let a breakout or map-entry Set write a value of another type
// unchecked.
func TestFitsScalarKinds(t *testing.T) {
	md := scalarKindsMessage(t)
	type namedInt int64 // not a type protobuf-go uses: checked by value
	checks := []struct {
		name      string
		fits, by  func(protoreflect.FieldDescriptor) bool
		wantAnyOK bool
	}{
		{"bool", fits[bool], fitsByValue[bool], true},
		{"int32", fits[int32], fitsByValue[int32], true},
		{"int64", fits[int64], fitsByValue[int64], true},
		{"uint32", fits[uint32], fitsByValue[uint32], true},
		{"uint64", fits[uint64], fitsByValue[uint64], true},
		{"float32", fits[float32], fitsByValue[float32], true},
		{"float64", fits[float64], fitsByValue[float64], true},
		{"string", fits[string], fitsByValue[string], true},
		{"[]byte", fits[[]byte], fitsByValue[[]byte], true},
		{"namedInt", fits[namedInt], fitsByValue[namedInt], false},
	}
	for _, c := range checks {
		anyOK := false
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			got, want := c.fits(fd), c.by(fd)
			if got != want {
				t.Errorf("fits[%s](%s %v): got %v, want %v", c.name, fd.Cardinality(), fd.Kind(), got, want)
			}
			anyOK = anyOK || got
		}
		if anyOK != c.wantAnyOK {
			t.Errorf("fits[%s] fits some kind: got %v, want %v", c.name, anyOK, c.wantAnyOK)
		}
	}
}
