package runtime

import (
	"sync"

	"github.com/protoql/protoql/internal/safeproto"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// extTypes resolves the extensions declared in a DB's schema when stored
// values are parsed, so that an extension written by Put reads back as that
// extension on a DB opened with linked Go types and on one opened on its
// stored schema alone (dynamicpb) alike. Extensions the schema does not
// declare stay unknown fields, which read back byte for byte.
type extTypes struct {
	once     sync.Once
	byNumber map[extKey]protoreflect.ExtensionType
	byName   map[protoreflect.FullName]protoreflect.ExtensionType
}

type extKey struct {
	msg protoreflect.FullName
	num protoreflect.FieldNumber
}

// unmarshalOptions returns how the DB parses stored values: merging (a
// row's key fields are set separately) and with the schema's extensions.
func (db *DB) unmarshalOptions() decodeOptions {
	db.ext.once.Do(func() { db.ext.build(db.cat) })
	return decodeOptions{proto.UnmarshalOptions{Merge: true, Resolver: &db.ext}}
}

// decodeOptions are the options of every decode of stored bytes. Its
// Unmarshal turns a panic of protobuf-go on malformed bytes (a corrupt
// value; see package internal/safeproto) into an error, which the caller
// reports as corruption at its key.
type decodeOptions struct{ proto.UnmarshalOptions }

// Unmarshal is proto.UnmarshalOptions.Unmarshal that returns an error
// where protobuf-go would panic.
func (o decodeOptions) Unmarshal(b []byte, m proto.Message) error {
	return safeproto.Unmarshal(o.UnmarshalOptions, b, m)
}

// build collects every extension declared in cat's files. An extension
// whose descriptor is the linked one resolves to the linked Go type (the
// message it extends is then linked too, see DB.NewMessage); any other to
// a dynamicpb type.
func (x *extTypes) build(cat *schema.Catalog) {
	x.byNumber = map[extKey]protoreflect.ExtensionType{}
	x.byName = map[protoreflect.FullName]protoreflect.ExtensionType{}
	var add func(exts protoreflect.ExtensionDescriptors, msgs protoreflect.MessageDescriptors)
	add = func(exts protoreflect.ExtensionDescriptors, msgs protoreflect.MessageDescriptors) {
		for i := range exts.Len() {
			xd := exts.Get(i)
			var xt protoreflect.ExtensionType = dynamicpb.NewExtensionType(xd)
			if linked, err := protoregistry.GlobalTypes.FindExtensionByName(xd.FullName()); err == nil && linked.TypeDescriptor().Descriptor() == xd {
				xt = linked
			}
			x.byNumber[extKey{xd.ContainingMessage().FullName(), xd.Number()}] = xt
			x.byName[xd.FullName()] = xt
		}
		for i := range msgs.Len() {
			add(msgs.Get(i).Extensions(), msgs.Get(i).Messages())
		}
	}
	if cat == nil {
		return
	}
	for _, fd := range cat.Files {
		add(fd.Extensions(), fd.Messages())
	}
}

// FindExtensionByName implements the resolver of proto.UnmarshalOptions.
func (x *extTypes) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, ok := x.byName[name]; ok {
		return xt, nil
	}
	return nil, protoregistry.NotFound
}

// FindExtensionByNumber implements the resolver of proto.UnmarshalOptions.
func (x *extTypes) FindExtensionByNumber(msg protoreflect.FullName, num protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, ok := x.byNumber[extKey{msg, num}]; ok {
		return xt, nil
	}
	return nil, protoregistry.NotFound
}
