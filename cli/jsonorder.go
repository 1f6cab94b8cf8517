package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// protojson writes map entries in ascending key order. For a schema with
// descending maps, the JSON is re-read into an ordered tree and the entries
// of those maps reversed, so JSON lists them in the order the store keeps
// (newest first), as the text format does.

// jsonValue is a JSON value that keeps its object keys in order.
type jsonValue struct {
	raw  json.RawMessage // scalars
	keys []string        // objects
	vals []*jsonValue    // object values, or array elements
	obj  bool
	arr  bool
}

func readJSON(dec *json.Decoder) (*jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		raw, err := marshalJSON(tok)
		return &jsonValue{raw: raw}, err
	}
	v := &jsonValue{obj: d == '{', arr: d == '['}
	for dec.More() {
		if v.obj {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			s, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("object key %v", k)
			}
			v.keys = append(v.keys, s)
		}
		child, err := readJSON(dec)
		if err != nil {
			return nil, err
		}
		v.vals = append(v.vals, child)
	}
	_, err = dec.Token() // the closing delimiter
	return v, err
}

func (v *jsonValue) write(b *bytes.Buffer) {
	switch {
	case v.obj:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := marshalJSON(k)
			b.Write(kb)
			b.WriteByte(':')
			v.vals[i].write(b)
		}
		b.WriteByte('}')
	case v.arr:
		b.WriteByte('[')
		for i, e := range v.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte(']')
	default:
		b.Write(v.raw)
	}
}

// reorder reverses the entries of the descending maps in v, the JSON of a
// message md.
func (o keyOrder) reorder(v *jsonValue, md protoreflect.MessageDescriptor) {
	if !v.obj || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return
	}
	for i, k := range v.keys {
		fd := md.Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			fd = md.Fields().ByJSONName(k)
		}
		if fd == nil {
			continue
		}
		child := v.vals[i]
		switch {
		case fd.IsMap():
			if o[fd.FullName()] && child.obj {
				slices.Reverse(child.keys)
				slices.Reverse(child.vals)
			}
			if vd := fd.MapValue(); vd.Message() != nil {
				for _, e := range child.vals {
					o.reorder(e, vd.Message())
				}
			}
		case fd.Message() == nil:
		case fd.IsList():
			for _, e := range child.vals {
				o.reorder(e, fd.Message())
			}
		default:
			o.reorder(child, fd.Message())
		}
	}
}

// orderJSON rewrites protojson output b of a message md in key order. An
// object's names are unique in protojson's output; were one repeated, the
// reversal would change which of the two a decoder keeps.
func (o keyOrder) orderJSON(b []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	if len(o) == 0 {
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readJSON(dec)
	if err != nil {
		return nil, err
	}
	o.reorder(v, md)
	var out bytes.Buffer
	v.write(&out)
	return out.Bytes(), nil
}

// marshalJSON encodes a token without escaping <, > and &, as protojson.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
