// Package querytest is the differential query harness shared by the tests
// of runtime and of the engines: a naive model that evaluates a bound plan
// over the rows as Put, random data and random queries (Differential on
// the social schema, IndexDifferential through the indexes of the Account
// table), and the checks that compare the executor with the model
// unpaged, page by page and under random limits. It is test support: only
// tests import it (internal/layering).
package querytest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// CursorKey is a fixed cursor secret, so golden outputs and counted reads do not
// depend on the random per-DB secret.
var CursorKey = []byte("test cursor key, 32 bytes long..")

// Put stores messages with Put on their rows.
func Put(t testing.TB, db *runtime.DB, msgs ...proto.Message) {
	t.Helper()
	for _, m := range msgs {
		tbl, err := db.Table(string(m.ProtoReflect().Descriptor().FullName()))
		check(t, err)
		check(t, db.Put(context.Background(), must[runtime.Ref](t)(tbl.RowOf(m)), m))
	}
}

// Text renders a message deterministically on one line: set fields in
// number order, map entries in key order.
func Text(m protoreflect.Message) string {
	var sb strings.Builder
	writeMessage(&sb, m)
	return sb.String()
}

func writeMessage(sb *strings.Builder, m protoreflect.Message) {
	sb.WriteString("{")
	fields := m.Descriptor().Fields()
	first := true
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		if !first {
			sb.WriteString(" ")
		}
		first = false
		sb.WriteString(string(fd.Name()) + ":")
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			writeMap(sb, fd, v.Map())
		case fd.IsList():
			sb.WriteString("[")
			for j := range v.List().Len() {
				if j > 0 {
					sb.WriteString(" ")
				}
				writeValue(sb, fd, v.List().Get(j))
			}
			sb.WriteString("]")
		default:
			writeValue(sb, fd, v)
		}
	}
	sb.WriteString("}")
}

func writeMap(sb *strings.Builder, fd protoreflect.FieldDescriptor, m protoreflect.Map) {
	type entry struct {
		k protoreflect.MapKey
		s string
	}
	var entries []entry
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		var ks strings.Builder
		writeValue(&ks, fd.MapKey(), k.Value())
		entries = append(entries, entry{k, ks.String()})
		return true
	})
	sort.Slice(entries, func(i, j int) bool { return less(entries[i].k.Value(), entries[j].k.Value()) })
	sb.WriteString("{")
	for i, e := range entries {
		if i > 0 {
			sb.WriteString(" ")
		}
		sb.WriteString(e.s + ":")
		writeValue(sb, fd.MapValue(), m.Get(e.k))
	}
	sb.WriteString("}")
}

func less(a, b protoreflect.Value) bool {
	switch x := a.Interface().(type) {
	case string:
		return x < b.String()
	case bool:
		return !x && b.Bool()
	case int32, int64:
		return a.Int() < b.Int()
	}
	return a.Uint() < b.Uint()
}

func writeValue(sb *strings.Builder, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		writeMessage(sb, v.Message())
	case protoreflect.StringKind:
		sb.WriteString(strconv.Quote(v.String()))
	case protoreflect.BytesKind:
		sb.WriteString(strconv.Quote(string(v.Bytes())))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			sb.WriteString(string(ev.Name()))
		} else {
			fmt.Fprint(sb, int32(v.Enum()))
		}
	default:
		fmt.Fprint(sb, v.Interface())
	}
}

// Collect runs q and returns the messages and cursors, or the first error.
func Collect(t testing.TB, db *runtime.DB, q *query.Query, vars map[string]any, opts ...runtime.QueryOption) ([]runtime.Result, error) {
	t.Helper()
	var out []runtime.Result
	opts = append([]runtime.QueryOption{runtime.WithCursorKey(CursorKey)}, opts...)
	for res, err := range db.Query(context.Background(), q, vars, opts...) {
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func Texts(rs []runtime.Result) string {
	var s []string
	for _, r := range rs {
		s = append(s, Text(r.Msg.ProtoReflect()))
	}
	return strings.Join(s, "\n      ")
}

func MsgTexts(ms []proto.Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, Text(m.ProtoReflect()))
	}
	return strings.Join(s, "\n      ")
}

func RowKey(t testing.TB, db *runtime.DB, m proto.Message) []byte {
	t.Helper()
	tbl, err := db.Table(string(m.ProtoReflect().Descriptor().FullName()))
	check(t, err)
	ref, err := tbl.RowOf(m)
	check(t, err)
	return ref.Key()
}

// check fails t on err.
func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// must returns a function that returns its value or fails t on its error.
func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		check(t, err)
		return v
	}
}
