package runtime

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MergeRow merges src, the continuation of a Partial query result, into
// dst, the part before it, so that dst holds the row as one call with
// larger limits would have returned it. Unlike proto.Merge, which replaces
// a map entry whole, it merges message map entries present in both, entry
// by entry and recursively, since a cut can fall inside an entry. Both
// must be of the same message type.
func MergeRow(dst, src proto.Message) {
	mergeRow(dst.ProtoReflect(), src.ProtoReflect())
}

func mergeRow(dst, src protoreflect.Message) {
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap() && fd.MapValue().Message() != nil:
			dm := dst.Mutable(fd).Map()
			v.Map().Range(func(k protoreflect.MapKey, sv protoreflect.Value) bool {
				if dm.Has(k) {
					mergeRow(dm.Mutable(k).Message(), sv.Message())
				} else {
					dm.Set(k, sv)
				}
				return true
			})
		case fd.IsMap():
			dm := dst.Mutable(fd).Map()
			v.Map().Range(func(k protoreflect.MapKey, sv protoreflect.Value) bool {
				dm.Set(k, sv)
				return true
			})
		case fd.IsList():
			dl := dst.Mutable(fd).List()
			for i := range v.List().Len() {
				dl.Append(v.List().Get(i))
			}
		case fd.Message() != nil:
			mergeRow(dst.Mutable(fd).Message(), v.Message())
		default:
			dst.Set(fd, v)
		}
		return true
	})
	if u := src.GetUnknown(); len(u) > 0 {
		dst.SetUnknown(append(dst.GetUnknown(), u...))
	}
}
