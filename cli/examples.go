package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/schema"
)

// examples are .help's examples, written for the database's own schema:
// the first table that holds a row, with that row's key, its first inline
// field and its first map.
type examples struct {
	queries, edits []string
}

func (r *repl) examples(ctx context.Context) examples {
	var ex examples
	t, key := r.exampleRow(ctx)
	if t == nil {
		return ex
	}
	name := string(t.Desc.Name())
	row := fmt.Sprintf("%s[%s]", name, key)
	var inline, mp *schema.Field
	for _, f := range t.Root.Fields {
		switch {
		case inline == nil && f.Storage == schema.Inline && f.Desc.Kind() != protoreflect.MessageKind && !f.Desc.IsList():
			inline = f
		case mp == nil && f.Storage == schema.Map:
			mp = f
		}
	}
	var sel []string
	if inline != nil {
		sel = append(sel, string(inline.Name()))
	}
	if mp != nil {
		sel = append(sel, string(mp.Name())+"(first: 5)")
	}
	if len(sel) == 0 {
		ex.queries = append(ex.queries, row)
	} else {
		ex.queries = append(ex.queries, fmt.Sprintf("%s { %s }", row, strings.Join(sel, ", ")))
	}
	ex.queries = append(ex.queries, fmt.Sprintf("%s(first: 10)", name))
	if inline != nil {
		ex.edits = append(ex.edits, fmt.Sprintf(".set %s.%s = %s", row, inline.Name(), exampleJSON(inline.Desc)))
	}
	if mp != nil {
		ex.edits = append(ex.edits, fmt.Sprintf(".delete %s.%s[%s]", row, mp.Name(), literal(mp.MapKey, zeroKey(mp.MapKey))))
	}
	ex.edits = append(ex.edits, ".delete "+row)
	return ex
}

// exampleRow returns the first table holding a row and that row's key in
// query syntax; with no rows, the first table and a made-up key.
func (r *repl) exampleRow(ctx context.Context) (*schema.Table, string) {
	if len(r.si.cat.Tables) == 0 {
		return nil, ""
	}
	for i, t := range r.si.cat.Tables {
		if i == 3 { // a few look-ups at most
			break
		}
		cq, err := r.c.compile(ctx, fmt.Sprintf("%s(first: 1) { %s }", t.Desc.Name(), t.Key[0].Field.Name()), nil)
		if err != nil {
			continue
		}
		for rw, err := range r.c.query(ctx, cq) {
			if err != nil {
				break
			}
			var keys []string
			for _, c := range t.Key {
				fd := rw.msg.Descriptor().Fields().ByNumber(c.Field.Number())
				keys = append(keys, literal(fd, rw.msg.Get(fd)))
			}
			return t, strings.Join(keys, ", ")
		}
	}
	t := r.si.cat.Tables[0]
	var keys []string
	for _, c := range t.Key {
		keys = append(keys, literal(c.Field, zeroKey(c.Field)))
	}
	return t, strings.Join(keys, ", ")
}

// literal writes a key value as a query literal.
func literal(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return strconv.Quote(v.String())
	case protoreflect.BytesKind:
		return strconv.Quote(string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return strconv.Quote(string(ev.Name()))
		}
		return strconv.Itoa(int(v.Enum()))
	}
	return fmt.Sprint(v.Interface())
}

// zeroKey is a made-up key value of fd's type.
func zeroKey(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("key")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte("key"))
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(fd.Enum().Values().Get(0).Number())
	}
	return fd.Default()
}

// exampleJSON is a JSON value of fd's type, for .set.
func exampleJSON(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return `"text"`
	case protoreflect.BoolKind:
		return "true"
	case protoreflect.BytesKind:
		return `"aGk="`
	case protoreflect.EnumKind:
		return strconv.Quote(string(fd.Enum().Values().Get(fd.Enum().Values().Len() - 1).Name()))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "1.5"
	}
	return "42"
}
