package schema

import (
	"slices"
	"strings"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// builder carries the path context while one table's layout is built.
type builder struct {
	c    *Catalog
	t    *Table
	errs []error
	// path holds the messages being decomposed along the current path, the
	// row's own message first, to refuse recursion; via[i] is the field that
	// leads from path[i] to path[i+1].
	path []protoreflect.FullName
	via  []*Field
	// cycles holds the cycles already reported, by their fields, so that a
	// cycle reached from several tables or fields is reported once.
	cycles map[string]bool
	// maps holds the enclosing map fields, innermost last, for "$map" join
	// sources.
	maps []*Field
}

func (b *builder) fail(d protoreflect.Descriptor, format string, args ...any) {
	b.errs = append(b.errs, errorf(d, format, args...))
}

// buildTable validates t's key columns; layouts are built by buildLayout
// once every table's key is known (joins need their targets' keys).
func (c *Catalog) buildTable(t *Table) []error {
	b := &builder{c: c, t: t}
	b.buildKey()
	return b.errs
}

func (c *Catalog) buildLayout(t *Table, cycles map[string]bool) []error {
	b := &builder{c: c, t: t, path: []protoreflect.FullName{t.Desc.FullName()}, cycles: cycles}
	t.Root = b.node(t.Desc, nil)
	b.tableIndexes()
	return b.errs
}

func (b *builder) buildKey() {
	md := b.t.Desc
	seen := map[string]bool{}
	for _, name := range TableOptions(md).GetKey() {
		fd := md.Fields().ByName(protoreflect.Name(name))
		switch {
		case fd == nil:
			b.fail(md, "key field %q is not a field of %s", name, md.Name())
			continue
		case seen[name]:
			b.fail(md, "key field %q is listed twice", name)
			continue
		case fd.Cardinality() == protoreflect.Repeated:
			b.fail(fd, "a key field must be singular, not repeated or map")
			continue
		case fd.ContainingOneof() != nil && !fd.ContainingOneof().IsSynthetic():
			b.fail(fd, "a key field cannot be a oneof member")
			continue
		}
		seen[name] = true
		fo := FieldOptions(fd)
		col := newColumn(fd, fd.Number(), fo.GetDescending())
		if col == nil {
			b.fail(fd, "key field has type %s; key fields must be string, bytes, bool, enum or an integer type", typeName(fd))
			continue
		}
		if fo.GetBreakout() || fo.GetInline() || fo.GetJoin() != nil || fo.GetApart() {
			b.fail(fd, "a key field is stored in the key; breakout, inline, join and apart do not apply")
			continue
		}
		b.t.Key = append(b.t.Key, col)
	}
}

// KeyKind returns the ascending tuple kind that encodes values of fd, and
// whether fd's type can be a key at all.
func KeyKind(fd protoreflect.FieldDescriptor) (tuple.Kind, bool) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return tuple.KindBool, true
	case protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return tuple.KindInt, true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return tuple.KindUint, true
	case protoreflect.StringKind:
		return tuple.KindString, true
	case protoreflect.BytesKind:
		return tuple.KindBytes, true
	}
	return 0, false
}

func typeName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map"
	case fd.Message() != nil:
		return "message " + string(fd.Message().FullName())
	}
	return fd.Kind().String()
}

// isWKT reports whether md is a well-known type, always stored whole.
func isWKT(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile() != nil && md.ParentFile().Package() == "google.protobuf"
}

// node builds the layout of md stored under parent (nil for the row).
func (b *builder) node(md protoreflect.MessageDescriptor, parent *Field) *Node {
	n := &Node{Desc: md, Table: b.t, Parent: parent, byNumber: map[protoreflect.FieldNumber]*Field{}}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := &Field{Desc: fd, Parent: n}
		f.Storage = b.classify(n, fd)
		f.Apart = b.apart(n, f)
		b.complete(f)
		f.elem = f.appendElem(nil) // nil when the field has no element of its own
		f.valueKind = scalarValueKind(f)
		if (f.Storage == Inline || f.Storage == Breakout) && fd.Message() != nil && fd.Kind() != protoreflect.GroupKind {
			b.checkWhole(fd.Message(), map[protoreflect.FullName]bool{})
		}
		n.Fields = append(n.Fields, f)
		n.byNumber[fd.Number()] = f
		if num := int(fd.Number()); num < maxLowField {
			for len(n.low) <= num {
				n.low = append(n.low, nil)
			}
			n.low[num] = f
		}
		switch f.Storage {
		case Inline:
			n.Inline = append(n.Inline, f)
		case Breakout, Object, Map:
			n.Children = append(n.Children, f)
		case Join:
			n.Joins = append(n.Joins, f)
		}
	}
	sortByNumber(n.Children)
	if parent == nil {
		for _, f := range n.Children {
			if f.Apart {
				b.t.Apart = append(b.t.Apart, f)
			}
		}
	}
	sortByNumber(n.IndexedMaps)
	return n
}

// apart validates the apart option of f, a field of node n: only map and
// object fields of the row message itself may be stored apart.
func (b *builder) apart(n *Node, f *Field) bool {
	if !FieldOptions(f.Desc).GetApart() {
		return false
	}
	switch {
	case f.Storage == KeyColumn:
		// buildKey refused it already.
	case n.Parent != nil:
		b.fail(f.Desc, "apart applies to fields of a table's row message, not of %s nested in it", n.Desc.FullName())
	case f.Storage == Map || f.Storage == Object:
		return true
	default:
		b.fail(f.Desc, "apart applies to map and object fields; this field is stored as %s", f.Storage)
	}
	return false
}

func sortByNumber(fs []*Field) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Number() < fs[j-1].Number(); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// complete fills in the storage-specific parts of f.
func (b *builder) complete(f *Field) {
	fd := f.Desc
	switch f.Storage {
	case Object:
		f.Child = b.descend(fd.Message(), f)
	case Map:
		f.MapKey, f.MapValue = fd.MapKey(), fd.MapValue()
		f.Key = newColumn(f.MapKey, fd.Number(), FieldOptions(fd).GetDescending())
		f.ElemKind = f.Key.Kind
		if vm := f.MapValue.Message(); vm != nil {
			b.maps = append(b.maps, f)
			f.Child = b.descend(vm, f)
			b.maps = b.maps[:len(b.maps)-1]
		}
		b.mapIndexes(f)
	case Join:
		f.Join = b.join(f, FieldOptions(fd).GetJoin())
	}
}

// descend builds the layout of a decomposed message, refusing recursion:
// a message stored under a path that already stores it would need an
// infinite key layout. The error lands on the field that closes the cycle,
// once per cycle however many paths reach it.
func (b *builder) descend(md protoreflect.MessageDescriptor, parent *Field) *Node {
	for i, name := range b.path {
		if name == md.FullName() {
			b.cycle(md, append(b.via[i:len(b.via):len(b.via)], parent))
			return nil
		}
	}
	b.path = append(b.path, md.FullName())
	b.via = append(b.via, parent)
	defer func() {
		b.path = b.path[:len(b.path)-1]
		b.via = b.via[:len(b.via)-1]
	}()
	return b.node(md, parent)
}

// cycle reports that md contains itself through fields (in path order,
// the closing field last) unless the same cycle was reported already.
func (b *builder) cycle(md protoreflect.MessageDescriptor, fields []*Field) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = string(f.Desc.FullName())
	}
	id := slices.Clone(names)
	slices.Sort(id)
	key := strings.Join(id, " ")
	if b.cycles[key] {
		return
	}
	b.cycles[key] = true
	closing := fields[len(fields)-1].Desc
	if len(fields) == 1 {
		b.fail(closing, "message %s contains itself through this field; mark a recursive field inline", md.FullName())
		return
	}
	b.fail(closing, "message %s contains itself through %s; mark one of these fields inline", md.FullName(), strings.Join(names, " → "))
}

// checkWhole refuses groups (and delimited encoding) and required fields
// anywhere inside md, a message stored whole (inline or breakout): the same
// rules as in decomposed messages, so that a schema's acceptance does not
// depend on where a message is used.
func (b *builder) checkWhole(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) {
	if seen[md.FullName()] || isWKT(md) {
		return
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Cardinality() == protoreflect.Required {
			b.fail(fd, requiredError)
		}
		switch {
		case fd.Kind() == protoreflect.GroupKind:
			b.fail(fd, groupError)
		case fd.IsMap():
			if vm := fd.MapValue().Message(); vm != nil {
				b.checkWhole(vm, seen)
			}
		case fd.Message() != nil:
			b.checkWhole(fd.Message(), seen)
		}
	}
}

const groupError = "groups (and delimited message encoding) are not supported; use a length-prefixed message field"

// requiredError refuses proto2 required fields (and editions'
// LEGACY_REQUIRED): protoql writes and reads parts of a message — the
// row's value without its key columns, breakouts and map entries on their
// own, queries that select some fields — and a part never holds every
// required field, so protobuf would refuse to encode or decode it. Refused
// when the schema is built rather than failing (or leaving a row that no
// longer parses) on the first write.
const requiredError = "required fields are not supported (protoql stores and returns parts of a message, which a required field forbids); make the field optional"

// classify decides where fd is stored and rejects misplaced options.
func (b *builder) classify(n *Node, fd protoreflect.FieldDescriptor) Storage {
	if isWKT(n.Desc) {
		return Inline
	}
	if fd.Cardinality() == protoreflect.Required {
		b.fail(fd, requiredError)
	}
	if n.Parent == nil && b.isKeyColumn(fd) {
		return KeyColumn
	}
	if fd.Kind() == protoreflect.GroupKind {
		b.fail(fd, groupError)
		return Inline
	}
	fo := FieldOptions(fd)
	inOneof := fd.ContainingOneof() != nil && !fd.ContainingOneof().IsSynthetic()
	if fo.GetDescending() && !fd.IsMap() {
		b.fail(fd, "descending applies to key columns and map fields")
	}
	if len(fo.GetIndex()) > 0 && !fd.IsMap() {
		b.fail(fd, "index applies to map fields (table indexes go on the table option)")
	}
	switch {
	case fo.GetJoin() != nil:
		return b.classifyJoin(fd, fo, inOneof)
	case fo.GetBreakout():
		return b.classifyBreakout(fd, fo, inOneof)
	case fo.GetInline():
		if fd.Message() == nil {
			b.fail(fd, "inline applies to message and map fields; scalar fields are inline already")
		}
		return Inline
	case fd.IsMap():
		return Map
	case fd.IsList() || inOneof || fd.Message() == nil || isWKT(fd.Message()):
		return Inline
	}
	return Object
}

func (b *builder) classifyJoin(fd protoreflect.FieldDescriptor, fo *protoqlv1.FieldOptions, inOneof bool) Storage {
	switch {
	case fo.GetBreakout() || fo.GetInline():
		b.fail(fd, "a join field is not stored; breakout and inline do not apply")
	case fd.Cardinality() == protoreflect.Repeated || fd.Message() == nil:
		b.fail(fd, "join applies to singular message fields, not %s", typeName(fd))
	case inOneof:
		b.fail(fd, "a join field cannot be a oneof member")
	default:
		return Join
	}
	return Inline
}

func (b *builder) classifyBreakout(fd protoreflect.FieldDescriptor, fo *protoqlv1.FieldOptions, inOneof bool) Storage {
	switch {
	case fo.GetInline():
		b.fail(fd, "breakout and inline exclude each other")
	case fd.Cardinality() == protoreflect.Repeated:
		b.fail(fd, "breakout applies to singular scalar, enum or message fields, not repeated or map fields")
	case inOneof:
		b.fail(fd, "oneof members are stored inline; breakout is not allowed on them")
	default:
		return Breakout
	}
	return Inline
}

func (b *builder) isKeyColumn(fd protoreflect.FieldDescriptor) bool {
	for _, c := range b.t.Key {
		if c.Field == fd {
			return true
		}
	}
	return false
}

// join resolves a join option against its target table and the path.
func (b *builder) join(f *Field, j *protoqlv1.Join) *JoinSpec {
	fd := f.Desc
	target, err := b.c.Lookup(j.GetTable())
	if err != nil {
		b.fail(fd, "join target: %s", strings.TrimPrefix(err.Error(), "schema: "))
		return nil
	}
	if target.Desc.FullName() != fd.Message().FullName() {
		b.fail(fd, "join field has type %s but table %s stores %s", fd.Message().FullName(), j.GetTable(), target.Name())
		return nil
	}
	if len(j.GetKey()) != len(target.Key) {
		b.fail(fd, "join to %s needs %d key sources (one per key column: %s), got %d",
			target.Desc.Name(), len(target.Key), columnNames(target), len(j.GetKey()))
		return nil
	}
	spec := &JoinSpec{Target: target}
	for i, src := range j.GetKey() {
		s, ok := b.joinSource(f, target.Key[i], src)
		if !ok {
			return nil
		}
		spec.Sources = append(spec.Sources, s)
	}
	return spec
}

func (b *builder) joinSource(f *Field, col *Column, src string) (JoinSource, bool) {
	fd := f.Desc
	var kind tuple.Kind
	var s JoinSource
	if name, ok := strings.CutPrefix(src, "$"); ok {
		for i := len(b.maps) - 1; i >= 0 && s.Map == nil; i-- {
			if string(b.maps[i].Desc.Name()) == name {
				s.Map = b.maps[i]
			}
		}
		if s.Map == nil {
			b.fail(fd, "join key source %q names no enclosing map field (enclosing maps: %s)", src, b.mapNames())
			return s, false
		}
		kind, _ = KeyKind(s.Map.MapKey)
	} else {
		hfd := fd.ContainingMessage().Fields().ByName(protoreflect.Name(src))
		var k tuple.Kind
		ok := hfd != nil
		if ok {
			k, ok = KeyKind(hfd)
		}
		if !ok || hfd.Cardinality() == protoreflect.Repeated || FieldOptions(hfd).GetBreakout() {
			b.fail(fd, "join key source %q must be \"$<map>\" or an inline singular scalar field of %s", src, fd.ContainingMessage().Name())
			return s, false
		}
		s.Field, kind = hfd, k
	}
	if kind != col.Kind.Ascending() {
		b.fail(fd, "join key source %q is a %s but key column %s of %s is a %s", src, kind, col.Field.Name(), col.Field.ContainingMessage().Name(), col.Kind.Ascending())
		return s, false
	}
	return s, true
}

func (b *builder) mapNames() string {
	if len(b.maps) == 0 {
		return "none"
	}
	var names []string
	for _, m := range b.maps {
		names = append(names, "$"+string(m.Desc.Name()))
	}
	return strings.Join(names, ", ")
}

func columnNames(t *Table) string {
	var names []string
	for _, c := range t.Key {
		names = append(names, string(c.Field.Name()))
	}
	return strings.Join(names, ", ")
}
