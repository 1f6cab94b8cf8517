package testpb

import "google.golang.org/protobuf/encoding/protowire"

// PanickyUserValue returns the wire bytes of a User whose profile's links
// map (map<string, string>) holds an entry with a string key followed by a
// key field of the wrong wire type. protobuf-go's reflective map decoding,
// the path dynamicpb messages take, panics on these bytes ("type mismatch:
// cannot convert nil to map key") instead of returning an error: tests use
// them as a stored value or a request message that must be an error.
func PanickyUserValue() []byte {
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "a")
	entry = protowire.AppendTag(entry, 1, protowire.Fixed32Type)
	entry = protowire.AppendFixed32(entry, 0)
	profile := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), entry)
	return protowire.AppendBytes(protowire.AppendTag(nil, 13, protowire.BytesType), profile)
}
