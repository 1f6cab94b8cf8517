package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
)

// .delete and .set name what they change with a path in query syntax:
//
//	User["alice"]                       a row
//	User["a".."m"]                      rows by key range (a prefix of the key columns, then a range)
//	User["alice"].sessions["s1"]        a map entry
//	User["alice"].sessions["s1".."s5"]  map entries by key range
//	User["alice"].last_seen_us          a breakout field, an object, a whole map, an inline field
//
// A path is checked by the query compiler: each "." becomes a "{" and the
// path a query selecting what it names, with every literal typed by the
// schema and every mistake positioned in the path as typed. The edits run
// on the runtime (through the KV service for --remote), each in one
// transaction that counts what it changes.

// target is what a path names.
type target struct {
	kind    targetKind
	ref     runtime.Ref // the row, entry, field or map
	parent  runtime.Ref // the object holding the field or map entry
	table   *runtime.Table
	kr      runtime.KeyRange
	inline  protoreflect.FieldDescriptor // kind inlineField: the field
	valueFd protoreflect.FieldDescriptor // what .set parses its value as
	path    string
}

type targetKind int

const (
	rowTarget targetKind = iota
	rowsTarget
	entryTarget
	entriesTarget
	fieldTarget  // a breakout, object or whole map, stored under its own keys
	inlineTarget // an inline field of a row, object or message map entry
)

// pathQuery turns a path into query text of the same length up to its
// end: each top-level "." becomes "{", closed at the end.
func pathQuery(path string) string {
	var b strings.Builder
	depth, open, inString := 0, 0, false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case inString && c == '\\':
			b.WriteByte(c)
			i++
			if i < len(path) {
				b.WriteByte(path[i])
			}
			continue
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case c == '.' && depth == 0:
			b.WriteByte('{')
			open++
			continue
		}
		b.WriteByte(c)
	}
	return b.String() + strings.Repeat("}", open)
}

// resolve checks a path and says what it names.
func resolve(db *runtime.DB, path string) (target, error) {
	q, err := query.Compile(db.Catalog(), pathQuery(path))
	if err != nil {
		return target{}, err
	}
	p := q.Plan()
	if len(p.Vars) > 0 {
		return target{}, query.Errorf(p.Vars[0].Pos, query.ErrVariable, "a path takes literals, not variables")
	}
	tbl, err := db.Table(string(p.Table.Desc.FullName()))
	if err != nil {
		return target{}, err
	}
	t := target{table: tbl, path: path}
	root := p.Root
	if p.Proj.All { // the path ends at the rows
		if root.Exact() {
			t.kind = rowTarget
			t.ref, err = tbl.Row(values(root.Points)...)
			return t, err
		}
		if len(root.Points) == 0 && !root.Ranged {
			return t, fmt.Errorf("%s names every row of %s; give a key or a key range", path, tbl.Schema().Desc.Name())
		}
		t.kind = rowsTarget
		t.kr = runtime.KeyRange{Prefix: values(root.Points), Lower: value(root.Lower), Upper: value(root.Upper)}
		return t, nil
	}
	if !root.Exact() {
		return t, fmt.Errorf("%s: a path into a row needs a value for every key column of %s", path, tbl.Schema().Desc.Name())
	}
	ref, err := tbl.Row(values(root.Points)...)
	if err != nil {
		return t, err
	}
	return t, t.walk(ref, p.Proj)
}

// walk follows the one field selected at each level of proj from ref.
func (t *target) walk(ref runtime.Ref, proj *query.Proj) error {
	for {
		if len(proj.Inline) == 1 && len(proj.Children) == 0 {
			t.kind, t.parent, t.ref, t.inline = inlineTarget, ref, ref, proj.Inline[0].Desc
			t.valueFd = t.inline
			return nil
		}
		if len(proj.Children) != 1 || len(proj.Inline) != 0 {
			return fmt.Errorf("%s: .delete and .set change stored fields (not key columns or joins)", t.path)
		}
		ch := proj.Children[0]
		f := ch.Field
		next, err := ref.Field(f.Number())
		if err != nil {
			return err
		}
		t.parent, t.ref, t.valueFd = ref, next, f.Desc
		switch {
		case f.Storage != schema.Map || ch.Access == nil:
			if ch.Proj == nil || ch.Proj.All {
				t.kind = fieldTarget
				return nil
			}
		case ch.Access.Exact():
			if next, err = next.Entry(ch.Access.Points[0].Value); err != nil {
				return err
			}
			t.ref, t.valueFd = next, f.MapValue
			if ch.Proj == nil || ch.Proj.All {
				t.kind = entryTarget
				return nil
			}
		default:
			if ch.Proj != nil && !ch.Proj.All {
				return fmt.Errorf("%s: a path continues from one map entry, not a range", t.path)
			}
			t.kind, t.kr = entriesTarget, runtime.KeyRange{Lower: value(ch.Access.Lower), Upper: value(ch.Access.Upper)}
			return nil
		}
		ref, proj = next, ch.Proj
	}
}

func value(op *query.Operand) protoreflect.Value {
	if op == nil {
		return protoreflect.Value{}
	}
	return op.Value
}

func values(ops []*query.Operand) []protoreflect.Value {
	vs := make([]protoreflect.Value, len(ops))
	for i, op := range ops {
		vs[i] = op.Value
	}
	return vs
}

// errNotFound is an edit of something that is not stored.
var errNotFound = errors.New("not found")

// deletePath deletes what path names and says what it deleted.
func deletePath(ctx context.Context, db *runtime.DB, path string) (string, error) {
	t, err := resolve(db, path)
	if err != nil {
		return "", err
	}
	var n int
	err = db.Update(ctx, func(tx *runtime.Tx) error {
		var err error
		switch t.kind {
		case rowsTarget:
			if n, err = tx.CountRows(ctx, t.table, t.kr); err == nil && n > 0 {
				err = tx.DeleteRows(ctx, t.table, t.kr)
			}
		case entriesTarget:
			if n, err = tx.CountEntries(ctx, t.ref, t.kr); err == nil && n > 0 {
				err = tx.DeleteRange(ctx, t.ref, t.kr)
			}
		case inlineTarget:
			n, err = clearInline(ctx, tx, t)
		default:
			var ok bool
			if ok, err = tx.Exists(ctx, t.ref); ok && err == nil {
				n, err = 1, tx.Delete(ctx, t.ref)
			}
		}
		return err
	})
	switch {
	case err != nil:
		return "", err
	case n == 0:
		return "", fmt.Errorf("%s: %w", path, errNotFound)
	}
	switch t.kind {
	case rowTarget, rowsTarget:
		return "deleted " + plural(n, "row", "rows"), nil
	case entryTarget, entriesTarget:
		return "deleted " + plural(n, "map entry", "map entries"), nil
	}
	return "deleted " + path, nil
}

// clearInline clears an inline field; 0 when its object is not stored.
func clearInline(ctx context.Context, tx *runtime.Tx, t target) (int, error) {
	ok, err := tx.Exists(ctx, t.ref)
	if !ok || err != nil {
		return 0, err
	}
	return 1, tx.UpdateInline(ctx, t.ref, func(m protoreflect.Message) error {
		m.Clear(m.Descriptor().Fields().ByNumber(t.inline.Number()))
		return nil
	})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// setPath sets the field or map entry path names to the value given as
// JSON (protojson: strings quoted, enums by name, messages as objects).
func setPath(ctx context.Context, db *runtime.DB, path, js string) error {
	t, err := resolve(db, path)
	if err != nil {
		return err
	}
	switch t.kind {
	case rowTarget, rowsTarget, entriesTarget:
		return fmt.Errorf("%s: .set sets one field or one map entry (use .put for a whole row)", path)
	}
	if t.valueFd.IsMap() {
		return fmt.Errorf("%s is a whole map: .set one entry, such as %s[KEY] = VALUE", path, path)
	}
	pm, err := parseValue(t.valueFd, js)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	v := pm.Get(t.valueFd)
	return db.Update(ctx, func(tx *runtime.Tx) error {
		if ok, err := tx.Exists(ctx, t.parent); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%s: %w", t.parent, errNotFound)
			}
			return err
		}
		switch {
		case t.kind == inlineTarget:
			// The row's message may be another Go type than the parsed
			// value's (a linked-in generated type): copy through the wire.
			wire, err := proto.Marshal(pm.Interface())
			if err != nil {
				return err
			}
			return tx.UpdateInline(ctx, t.ref, func(m protoreflect.Message) error {
				m.Clear(m.Descriptor().Fields().ByNumber(t.inline.Number()))
				return proto.UnmarshalOptions{Merge: true}.Unmarshal(wire, m.Interface())
			})
		case t.ref.Kind() == runtime.RefObject || t.valueFd.Kind() == protoreflect.MessageKind && t.ref.Kind() == runtime.RefEntry:
			return tx.Put(ctx, t.ref, v.Message().Interface())
		}
		return tx.SetValue(ctx, t.ref, v)
	})
}

// parseValue reads a value of fd from JSON, the way protojson reads the
// field in its message, into a message holding only that field.
func parseValue(fd protoreflect.FieldDescriptor, js string) (*dynamicpb.Message, error) {
	if strings.TrimSpace(js) == "" {
		return nil, errors.New("no value: want JSON, such as \"text\", 42, true or {\"field\": 1}")
	}
	m := dynamicpb.NewMessage(fd.ContainingMessage())
	doc := fmt.Sprintf("{%q: %s}", fd.Name(), js)
	if err := protojson.Unmarshal([]byte(doc), m); err != nil {
		shown := js
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		return nil, fmt.Errorf("value %s does not fit %s: %w", shown, fieldType(fd), err)
	}
	return m, nil
}

func fieldType(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}
