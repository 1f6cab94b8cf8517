package runtime_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
)

// patchKinds returns a proto3 message with a field of every scalar kind
// (1-15), a oneof of two scalars (16, 17), a repeated int32 (18), a message
// field (19) and an optional int64 (20): the fields patchScalar handles and
// those it must leave to the general path.
func patchKinds(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	T := descriptorpb.FieldDescriptorProto_Type_value
	kinds := []string{"TYPE_BOOL", "TYPE_ENUM", "TYPE_INT32", "TYPE_INT64", "TYPE_SINT32", "TYPE_SINT64", "TYPE_UINT32", "TYPE_UINT64",
		"TYPE_FIXED32", "TYPE_SFIXED32", "TYPE_FLOAT", "TYPE_FIXED64", "TYPE_SFIXED64", "TYPE_DOUBLE", "TYPE_STRING"}
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	msg := &descriptorpb.DescriptorProto{Name: proto.String("Kinds"), OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}, {Name: proto.String("_maybe")}}}
	for i, k := range kinds {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String("f" + k[5:]), Number: proto.Int32(int32(i + 1)), Label: opt, Type: descriptorpb.FieldDescriptorProto_Type(T[k]).Enum()}
		if k == "TYPE_ENUM" {
			f.TypeName = proto.String(".patch.E")
		}
		msg.Field = append(msg.Field, f)
	}
	msg.Field = append(msg.Field,
		&descriptorpb.FieldDescriptorProto{Name: proto.String("bytes"), Number: proto.Int32(21), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()},
		&descriptorpb.FieldDescriptorProto{Name: proto.String("one_a"), Number: proto.Int32(16), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), OneofIndex: proto.Int32(0)},
		&descriptorpb.FieldDescriptorProto{Name: proto.String("one_b"), Number: proto.Int32(17), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), OneofIndex: proto.Int32(0)},
		&descriptorpb.FieldDescriptorProto{Name: proto.String("list"), Number: proto.Int32(18), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()},
		&descriptorpb.FieldDescriptorProto{Name: proto.String("sub"), Number: proto.Int32(19), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".patch.Kinds")},
		&descriptorpb.FieldDescriptorProto{Name: proto.String("maybe"), Number: proto.Int32(20), Label: opt, Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), OneofIndex: proto.Int32(1), Proto3Optional: proto.Bool(true)},
	)
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("patch.proto"), Package: proto.String("patch"), Syntax: proto.String("proto3"),
		EnumType:    []*descriptorpb.EnumDescriptorProto{{Name: proto.String("E"), Value: []*descriptorpb.EnumValueDescriptorProto{{Name: proto.String("E0"), Number: proto.Int32(0)}, {Name: proto.String("E1"), Number: proto.Int32(1)}}}},
		MessageType: []*descriptorpb.DescriptorProto{msg},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().Get(0)
}

// patchMessages returns the messages the patch tests run on: the one of
// every kind (dynamic) and generated ones of the test schema.
func patchMessages(t testing.TB) []protoreflect.Message {
	return []protoreflect.Message{
		dynamicpb.NewMessage(patchKinds(t)),
		(&testpb.Session{}).ProtoReflect(),
		(&testpb.Settings{}).ProtoReflect(),
		(&testpb.User{}).ProtoReflect(),
		(&testpb.Label{}).ProtoReflect(),
	}
}

// scalarValue returns a value of fd's kind chosen by x: zeros, negative
// zero, NaN, extremes and ordinary values, and for strings invalid UTF-8.
func scalarValue(fd protoreflect.FieldDescriptor, x uint64, s string) protoreflect.Value {
	edge := []uint64{0, 1, 2, 127, 128, 1 << 31, 1<<32 - 1, 1 << 32, math.MaxUint64, math.MaxUint64 - 1, 1 << 63}
	u := x
	if x%3 != 0 {
		u = edge[(x/3)%uint64(len(edge))]
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(u%2 == 1)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(u)))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(u))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(u))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(u))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(u)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32([]float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), 1.5, math.Float32frombits(uint32(u))}[x%5])
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64([]float64{0, math.Copysign(0, -1), math.NaN(), -2.25, math.Float64frombits(u)}[x%5])
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(s))
	}
	return protoreflect.Value{}
}

// checkPatch sets field fd of the message encoded in val to v both ways: by
// patchScalar, and by decoding into m (emptied), setting and marshalling
// deterministically, as UpdateInline does. Where the patch vouches for its
// bytes they must be Marshal's, and it must not vouch for a value that
// does not decode or whose change does not marshal. It reports whether the
// patch was made.
func checkPatch(t *testing.T, m protoreflect.Message, val []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	t.Helper()
	got, ok := runtime.PatchScalar(val, m.Descriptor(), fd, v)
	proto.Reset(m.Interface())
	if err := proto.Unmarshal(val, m.Interface()); err != nil {
		if ok {
			t.Fatalf("%s: patched %x (field %s = %v) although it does not parse: %v", m.Descriptor().FullName(), val, fd.Name(), v, err)
		}
		return false
	}
	m.Set(fd, v)
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
	switch {
	case !ok:
		return false
	case err != nil:
		t.Fatalf("%s: patched %x (field %s = %v) to %x, but Marshal fails: %v", m.Descriptor().FullName(), val, fd.Name(), v, got, err)
	case !bytes.Equal(got, want):
		t.Fatalf("%s: %x with field %s = %v: patched %x, Marshal %x", m.Descriptor().FullName(), val, fd.Name(), v, got, want)
	}
	return true
}

// randomFill sets each field of m the patch tests vary, with probability
// one half, to a value of its kind; scalars says to set singular scalars
// outside oneofs only (the values the patch handles).
func randomFill(r *rand.Rand, m protoreflect.Message, scalars bool) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(2) == 0 || fd.IsMap() || (fd.Message() != nil && r.IntN(4) != 0) {
			continue
		}
		if scalars && (fd.IsList() || fd.Message() != nil || fd.ContainingOneof() != nil) {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(3) {
				l.Append(scalarValue(fd, r.Uint64(), "e"))
			}
		case fd.Message() != nil:
			m.Set(fd, protoreflect.ValueOfMessage(m.NewField(fd).Message()))
		default:
			m.Set(fd, scalarValue(fd, r.Uint64(), []string{"", "a", "phone", "héllo", "\xff"}[r.IntN(5)]))
		}
	}
}

// TestPatchScalarMatchesMarshal is the differential test of patchScalar on
// random messages: marshalled, then each scalar field set to a random value
// both ways. It also checks that the patch is made on the values the
// encoder writes (it is not a path that never runs).
func TestPatchScalarMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 3))
	for _, proto3 := range patchMessages(t) {
		md := proto3.Descriptor()
		patched, tried := 0, 0
		for i := range 2000 {
			src := proto3.New()
			randomFill(r, src, i%2 == 0)
			val, err := proto.MarshalOptions{Deterministic: true}.Marshal(src.Interface())
			if err != nil {
				continue // invalid UTF-8 in a string
			}
			fields := md.Fields()
			fd := fields.Get(r.IntN(fields.Len()))
			if fd.IsList() || fd.IsMap() || fd.Message() != nil {
				continue
			}
			tried++
			if checkPatch(t, proto3.New(), val, fd, scalarValue(fd, r.Uint64(), []string{"", "b", "tablet", "\xc3"}[r.IntN(4)])) {
				patched++
			}
		}
		t.Logf("%s: patched %d of %d", md.FullName(), patched, tried)
		if patched == 0 {
			t.Errorf("%s: patched none of %d changes", md.FullName(), tried)
		}
	}
}

// TestPatchScalarRefuses checks values the patch must leave to the general
// path, because a decode and encode would change their bytes or refuse
// them.
func TestPatchScalarRefuses(t *testing.T) {
	md := (&testpb.Session{}).ProtoReflect().Descriptor()
	expires, device := md.Fields().ByNumber(1), md.Fields().ByNumber(2)
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for name, val := range map[string][]byte{
		"long varint":       cat(tag(1, protowire.VarintType), []byte{0x85, 0x00}),
		"zero value":        cat(tag(1, protowire.VarintType), []byte{0}),
		"long tag":          cat([]byte{0x88, 0x00}, []byte{5}),
		"out of order":      cat(tag(2, protowire.BytesType), []byte{1, 'x'}, tag(1, protowire.VarintType), []byte{5}),
		"repeated field":    cat(tag(1, protowire.VarintType), []byte{5}, tag(1, protowire.VarintType), []byte{6}),
		"unknown field":     cat(tag(1, protowire.VarintType), []byte{5}, tag(9, protowire.VarintType), []byte{1}),
		"wrong wire type":   cat(tag(1, protowire.Fixed64Type), make([]byte, 8)),
		"invalid UTF-8":     cat(tag(2, protowire.BytesType), []byte{1, 0xff}),
		"empty string":      cat(tag(2, protowire.BytesType), []byte{0}),
		"truncated":         cat(tag(2, protowire.BytesType), []byte{5, 'x'}),
		"map field present": cat(tag(3, protowire.BytesType), []byte{0}),
	} {
		if got, ok := runtime.PatchScalar(val, md, expires, protoreflect.ValueOfInt64(7)); ok {
			t.Errorf("%s: patched %x to %x", name, val, got)
		}
	}
	if got, ok := runtime.PatchScalar(nil, md, device, protoreflect.ValueOfString("\xff")); ok {
		t.Errorf("invalid UTF-8 value: patched to %x", got)
	}
	kinds := patchKinds(t)
	for _, num := range []protoreflect.FieldNumber{16, 18, 19, 20} { // oneof, list, message, optional
		if _, ok := runtime.PatchScalar(nil, kinds, kinds.Fields().ByNumber(num), protoreflect.ValueOfInt64(1)); ok {
			t.Errorf("field %d: patched", num)
		}
	}
}

// FuzzPatchScalar runs the differential check of patchScalar on any bytes:
// where it vouches for its result, the result is Marshal's.
func FuzzPatchScalar(f *testing.F) {
	msgs := patchMessages(f)
	f.Add([]byte{0x08, 0x05, 0x12, 0x01, 'x'}, uint8(0), uint64(7), "s")
	f.Add([]byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x10}, uint8(1), uint64(0), "")
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.Session{ExpiresUs: -1, Device: "phone"})), uint8(3), uint64(1<<40), "tablet")
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.Settings{Dark: true, FontSize: -3})), uint8(2), uint64(3), "")
	f.Fuzz(func(t *testing.T, val []byte, field uint8, x uint64, s string) {
		for _, m := range msgs {
			fields := m.Descriptor().Fields()
			fd := fields.Get(int(field) % fields.Len())
			if fd.IsList() || fd.IsMap() || fd.Message() != nil {
				continue
			}
			checkPatch(t, m.New(), val, fd, scalarValue(fd, x, s))
		}
	})
}

// userRowNode returns the layout of the test schema's User row: inline
// fields, a key column (user_id) and a breakout (last_seen_us).
func userRowNode(t testing.TB) *schema.Node {
	t.Helper()
	return table(t, openDB(t, memkv.New()), "User").Schema().Root
}

// checkPatchInline checks the patch with a layout (newInline's) against
// checkValue, which newInline skips when the patch vouches for the value:
// the patch may vouch only for values checkValue accepts, and then gives
// the bytes the patch without a layout gives. It reports whether the
// layout alone made the patch refuse.
func checkPatchInline(t *testing.T, node *schema.Node, val []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) (refusedByLayout bool) {
	t.Helper()
	got, ok := runtime.PatchInline(val, node, fd, v)
	plain, plainOK := runtime.PatchScalar(val, node.Desc, fd, v)
	if !ok {
		return plainOK
	}
	if err := runtime.CheckValue(val, node); err != nil {
		t.Fatalf("%s: patched %x (field %s = %v), which checkValue refuses: %v", node.Desc.FullName(), val, fd.Name(), v, err)
	}
	if !plainOK || !bytes.Equal(got, plain) {
		t.Fatalf("%s: patch of %x (field %s = %v) with the layout %x, without %x (ok %v)", node.Desc.FullName(), val, fd.Name(), v, got, plain, plainOK)
	}
	return false
}

// TestPatchInlineOnlyWhatCheckValueAccepts is the differential test of
// newInline's one walk: random User rows, some holding their key column
// or breakout in the value, with a scalar inline field set.
func TestPatchInlineOnlyWhatCheckValueAccepts(t *testing.T) {
	node := userRowNode(t)
	md := node.Desc
	fields := md.Fields()
	r := rand.New(rand.NewPCG(8, 16))
	refused, patched := 0, 0
	for i := range 3000 {
		m := (&testpb.User{}).ProtoReflect()
		randomFill(r, m, i%2 == 0)
		if i%3 != 0 { // most rows hold inline scalars only, as stored
			for _, num := range []protoreflect.FieldNumber{1, 3} {
				if r.IntN(2) == 0 {
					m.Clear(fields.ByNumber(num))
				}
			}
			for k := range fields.Len() {
				if fd := fields.Get(k); fd.Message() != nil || fd.IsList() || fd.ContainingOneof() != nil {
					m.Clear(fd)
				}
			}
		}
		val, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
		if err != nil {
			continue
		}
		if i%5 == 0 && len(val) > 0 { // and some damaged
			val[r.IntN(len(val))] ^= byte(1 + r.IntN(255))
		}
		fd := fields.ByNumber(2) // registered, the inline scalar
		if checkPatchInline(t, node, val, fd, scalarValue(fd, r.Uint64(), "")) {
			refused++
		} else if _, ok := runtime.PatchInline(val, node, fd, protoreflect.ValueOfUint64(1)); ok {
			patched++
		}
	}
	t.Logf("patched %d, refused for the layout alone %d", patched, refused)
	if refused == 0 || patched == 0 {
		t.Errorf("patched %d, refused for the layout %d: the test misses a path", patched, refused)
	}
}

// FuzzPatchInline runs the differential check of checkPatchInline on any
// bytes.
func FuzzPatchInline(f *testing.F) {
	node := userRowNode(f)
	f.Add([]byte{0x10, 0x05}, uint64(7))
	f.Add([]byte{0x10, 0x05, 0x18, 0x01}, uint64(0))
	f.Add([]byte{0x0a, 0x01, 'u', 0x10, 0x05}, uint64(1))
	f.Fuzz(func(t *testing.T, val []byte, x uint64) {
		fd := node.Desc.Fields().ByNumber(2)
		checkPatchInline(t, node, val, fd, scalarValue(fd, x, ""))
	})
}
