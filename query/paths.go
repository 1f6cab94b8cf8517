package query

import (
	"strconv"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// joinPath renders a join's target row as Thread[thread_id=$threads]: the
// target's key columns and where their values come from.
func (c *checker) joinPath(sf *schema.Field) string {
	j := sf.Join
	b := append(c.s.tmp[:0], j.Target.Desc.Name()...)
	b = append(b, '[')
	for i, src := range j.Sources {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(append(b, j.Target.Key[i].Field.Name()...), '=')
		if src.Map != nil {
			b = append(append(b, '$'), src.Map.Name()...)
		} else {
			b = append(b, src.Field.Name()...)
		}
	}
	c.s.tmp = append(b, ']')
	return c.intern(c.s.tmp)
}

// keyPath renders base followed by the keys of a, for symbolic paths:
// [user_id="alice"] at the root, ["s1".."s5"] on a map.
func (c *checker) keyPath(base string, a *Access) string {
	if len(a.Points) == 0 && !a.Ranged {
		return base
	}
	b := append(append(c.s.tmp[:0], base...), '[')
	for i, op := range a.Points {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = c.appendCol(b, a, i)
		b = appendOperand(b, op, a.Cols[i].Field)
	}
	if a.Ranged {
		if len(a.Points) > 0 {
			b = append(b, ", "...)
		}
		b = c.appendCol(b, a, len(a.Points))
		if a.Lower != nil {
			b = appendOperand(b, a.Lower, a.Cols[len(a.Points)].Field)
		}
		b = append(b, ".."...)
		if a.Upper != nil {
			b = appendOperand(b, a.Upper, a.Cols[len(a.Points)].Field)
		}
	}
	c.s.tmp = append(b, ']')
	return c.intern(c.s.tmp)
}

func (c *checker) appendCol(b []byte, a *Access, i int) []byte {
	if a.Map != nil && a.Index == nil {
		return b
	}
	return append(append(b, a.Cols[i].Name()...), '=')
}

// appendOperand renders an operand of key column fd as the query would
// write it.
func appendOperand(b []byte, op *Operand, fd protoreflect.FieldDescriptor) []byte {
	if op.Var != nil {
		return append(append(b, '$'), op.Var.Name...)
	}
	return appendKeyValue(b, op.Value, fd)
}

// appendKeyValue is appendValue for a value keyLiteral typed by fd, of
// the Go type protoreflect uses for fd's kind: it reads the value by that
// kind rather than through Interface, which allocates.
func appendKeyValue(b []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor) []byte {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return strconv.AppendQuote(b, v.String())
	case protoreflect.BytesKind:
		return strconv.AppendQuote(b, string(v.Bytes()))
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	case protoreflect.EnumKind:
		x := v.Enum()
		if ev := fd.Enum().Values().ByNumber(x); ev != nil {
			return append(b, ev.Name()...)
		}
		return strconv.AppendInt(b, int64(x), 10)
	}
	return b
}

func appendValue(b []byte, v protoreflect.Value, fd protoreflect.FieldDescriptor) []byte {
	switch x := v.Interface().(type) {
	case string:
		return strconv.AppendQuote(b, x)
	case []byte:
		return strconv.AppendQuote(b, string(x))
	case bool:
		return strconv.AppendBool(b, x)
	case protoreflect.EnumNumber:
		if ev := fd.Enum().Values().ByNumber(x); ev != nil {
			return append(b, ev.Name()...)
		}
		return strconv.AppendInt(b, int64(x), 10)
	case int32, int64:
		return strconv.AppendInt(b, v.Int(), 10)
	case uint32, uint64:
		return strconv.AppendUint(b, v.Uint(), 10)
	}
	return b
}
