package runtime

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/fieldpatch"
	"github.com/protoql/protoql/schema"
)

// mergePatch returns, appended to dst, the field patch (package
// kv/fieldpatch) of a typed inline setter's change set of field num of
// the object at ref, and true, when the setter may write it blind
// (kv.KeyMerger) instead of reading and rewriting the object's value: m
// is the store's merger (nil when it cannot merge); own says the update
// reads and writes the object's own key only (no index names its inline
// fields, nothing apart, a valid target); set is a value of the schema's
// descriptor of field num and a value of its type (see updateOne),
// stored inline, a singular number, bool or enum. The patch removes the field (every member of its oneof, when it
// is in one) and appends the field's encoding, or nothing for the zero
// value of a field without presence: what decoding the value, setting the
// field and encoding it gives, up to the order of the fields.
//
// Strings, bytes and messages stay read-modify-writes: a string's value
// could take the object's value over MaxValueSize, which only a read can
// tell, and a message field merges into the stored one rather than
// replacing it. A number, bool or enum adds at most 15 bytes per field
// to the value, the one size check the blind write skips.
func mergePatch(dst []byte, m kv.KeyMerger, ref Ref, num protoreflect.FieldNumber, set scalarSet, own bool) ([]byte, bool) {
	if m == nil || !own || set.fd == nil {
		return nil, false
	}
	f := ref.node.Field(num)
	if f == nil || f.Storage != schema.Inline || f.Desc != set.fd || !mergeableKind(set.fd) {
		return nil, false
	}
	var nb [4]int32
	nums := nb[:0]
	if o := set.fd.ContainingOneof(); o != nil {
		for i, fs := 0, o.Fields(); i < fs.Len(); i++ {
			nums = append(nums, int32(fs.Get(i).Number()))
		}
	} else {
		nums = append(nums, int32(num))
	}
	var rb [24]byte
	rec := rb[:0]
	if set.fd.HasPresence() || !implicitZero(set.fd, set.v) {
		rec = appendScalar(rec, protowire.Number(num), set.fd, set.v)
	}
	p, err := fieldpatch.Append(dst, nums, rec)
	if err != nil {
		return nil, false // not reached: the numbers and rec are valid
	}
	return p, true
}

// mergeableKind reports whether fd is a singular field of a number, bool
// or enum kind (see mergePatch).
func mergeableKind(fd protoreflect.FieldDescriptor) bool {
	if fd.Cardinality() == protoreflect.Repeated || fd.IsExtension() {
		return false
	}
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return false
	}
	return true
}

// implicitZero reports whether Marshal omits v as the value of fd, a
// field without presence: zero, and for a float not negative zero.
func implicitZero(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return !v.Bool()
	case protoreflect.EnumKind:
		return v.Enum() == 0
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return v.Int() == 0
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return v.Uint() == 0
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return math.Float64bits(v.Float()) == 0
	}
	return false
}
