package query

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Explain renders the plan: every get (one object) and scan (a key range)
// with its symbolic path and its key bounds in hex, one key element per
// word, relative to the database's namespace; what each object returns;
// which stored children are skipped (never read); and the joins. A
// variable's element shows as its tag and ‹$name›, and "end(k)" is the
// first key after every key starting with k. Bind the query and use
// Bound.Explain to see concrete bounds.
func (q *Query) Explain() string {
	if len(q.plan.Vars) == 0 {
		if b, err := q.constBound(); err == nil {
			return b.Explain()
		}
	}
	return explain(q.plan, nil)
}

// Explain renders the plan with the bound values (see Query.Explain).
func (b *Bound) Explain() string { return explain(b.Plan, b) }

func explain(p *Plan, b *Bound) string {
	e := explainer{b: b}
	a := p.Root
	if a.Index != nil {
		e.indexScan(a, sym{}, "row", 0)
		e.proj(p.Proj, sym{}.placeholder("row"), 1)
		return e.sb.String()
	}
	root := sym{}.add(p.Table.AppendPrefix(nil))
	lo, hi := e.bounds(a, root)
	if a.Exact() {
		e.line(0, "get "+a.Path+e.page("", a))
		e.line(1, "key    "+lo.String())
		e.proj(p.Proj, lo, 1)
	} else {
		e.line(0, "scan "+a.Path+e.page("", a))
		e.line(1, "range  ["+lo.String()+", "+hi.String()+")")
		e.proj(p.Proj, sym{}.placeholder("row"), 1)
	}
	return e.sb.String()
}

type explainer struct {
	sb strings.Builder
	b  *Bound
}

// line writes s indented by depth. Indentation stops growing at
// maxIndent levels, where the depth is written out instead, so the output
// stays linear in the plan however deep joins nest.
func (e *explainer) line(depth int, s string) {
	e.sb.WriteString(indent[:2*min(depth, maxIndent)])
	if depth > maxIndent {
		e.sb.WriteString("[" + strconv.Itoa(depth) + "] ")
	}
	e.sb.WriteString(s)
	e.sb.WriteByte('\n')
}

const maxIndent = 24

var indent = strings.Repeat("  ", maxIndent)

// page renders label and an access's page arguments in parentheses.
func (e *explainer) page(label string, a *Access) string {
	var parts []string
	if label != "" {
		parts = append(parts, label)
	}
	if a != nil && a.First != nil {
		parts = append(parts, "first "+e.operand(a.First, nil))
	}
	if a != nil && a.After != nil {
		switch {
		case e.b != nil && e.b.Access(a).After == nil:
		case a.After.Var != nil && e.b == nil:
			parts = append(parts, "after $"+a.After.Var.Name)
		default:
			parts = append(parts, "after cursor")
		}
	}
	if a != nil && a.Reverse != nil {
		switch {
		case a.Reverse.Var != nil && e.b == nil:
			parts = append(parts, "reverse $"+a.Reverse.Var.Name)
		case e.b.Value(a.Reverse).Bool():
			parts = append(parts, "reverse")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func (e *explainer) operand(op *Operand, fd protoreflect.FieldDescriptor) string {
	if op.Var != nil {
		if e.b != nil {
			return formatValue(e.b.Value(op), fd)
		}
		return "$" + op.Var.Name
	}
	return formatValue(op.Value, fd)
}

func formatValue(v protoreflect.Value, fd protoreflect.FieldDescriptor) string {
	if fd == nil {
		return strconv.FormatInt(v.Int(), 10)
	}
	return string(appendValue(nil, v, fd))
}

// proj renders what an object at key returns, skips and reads below.
func (e *explainer) proj(p *Proj, key sym, d int) {
	if p.All {
		e.line(d, "return everything stored under it")
		return
	}
	var ret []string
	if p.Node.Parent == nil {
		for _, col := range p.Node.Table.Key {
			ret = append(ret, string(col.Field.Name())+" (key)")
		}
	} else if p.Node.Parent.Storage == schema.Map {
		ret = append(ret, "key")
	}
	for _, f := range p.Inline {
		ret = append(ret, string(f.Name()))
	}
	for _, f := range p.Hidden {
		ret = append(ret, string(f.Name())+" (join source, not returned)")
	}
	if len(ret) == 0 {
		ret = append(ret, "no inline fields")
	}
	e.line(d, "return "+strings.Join(ret, ", "))
	if len(p.Skipped) > 0 {
		e.line(d, "skip   "+joinNames(names(p.Skipped)))
	}
	for _, ch := range p.Children {
		e.child(p, ch, key, d)
	}
	for _, j := range p.Joins {
		e.join(p, j, key, d)
	}
}

func names(fs []*schema.Field) []protoreflect.Name {
	names := make([]protoreflect.Name, len(fs))
	for i, f := range fs {
		names[i] = f.Name()
	}
	return names
}

func (e *explainer) child(p *Proj, ch *Child, key sym, d int) {
	path := p.Path + "." + string(ch.Field.Name())
	if ch.Field.Apart {
		e.line(d, "apart  "+path+": its own key space, read with an iterator of its own")
		key = key.apart(ch.Field)
	}
	switch ch.Field.Storage {
	case schema.Breakout:
		e.line(d, "get "+path+" (breakout)")
		e.line(d+1, "key    "+key.add(ch.Elem).String())
	case schema.Object:
		k := key.add(ch.Elem)
		if ch.Proj.All {
			e.line(d, "scan "+path+" (object, whole)")
			e.line(d+1, "range  ["+k.String()+", "+k.end().String()+")")
			return
		}
		e.line(d, "get "+path+" (object)")
		e.line(d+1, "key    "+k.String())
		e.proj(ch.Proj, k, d+1)
	case schema.Map:
		e.mapChild(ch, path, key, d)
	}
}

func (e *explainer) mapChild(ch *Child, path string, key sym, d int) {
	a := ch.Access
	var lo, hi sym
	exact := a != nil && a.Exact()
	if a == nil {
		lo = key.add(ch.Elem)
		hi = lo.end()
	} else {
		lo, hi = e.bounds(a, key)
		path = a.Path
	}
	entry := sym{}.placeholder("entry")
	if a != nil && a.Index != nil {
		e.indexScan(a, key, "map entry", d)
		if ch.Proj == nil {
			e.line(d+1, "return key, value")
			return
		}
		e.proj(ch.Proj, entry, d+1)
		return
	}
	if exact {
		e.line(d, "get "+path+e.page("map entry", a))
		e.line(d+1, "key    "+lo.String())
		entry = lo
	} else {
		e.line(d, "scan "+path+e.page("map", a))
		e.line(d+1, "range  ["+lo.String()+", "+hi.String()+")")
	}
	if ch.Proj == nil {
		e.line(d+1, "return key, value")
		return
	}
	e.proj(ch.Proj, entry, d+1)
}

func (e *explainer) join(p *Proj, j *Child, key sym, d int) {
	path := p.Path + "." + string(j.Field.Name())
	holder := "object"
	if p.Node.Parent != nil && p.Node.Parent.Storage == schema.Map {
		holder = "entry"
	}
	e.line(d, "join "+path+" → "+j.Proj.Path+": batched, one key per "+holder+", sorted, one iterator")
	k := sym{}.add(j.Target.AppendPrefix(nil))
	for i, src := range j.Field.Join.Sources {
		col := j.Target.Key[i]
		var name string
		if src.Map != nil {
			name = "$" + string(src.Map.Name())
		} else {
			name = string(src.Field.Name())
		}
		k = k.variable(col.AppendTag(nil), name)
	}
	e.line(d+1, "key    "+k.String())
	e.proj(j.Proj, k, d+1)
}

// indexScan renders the read of a's index entries under parent (nothing
// for a table index, the holding object's key for a map's), and the
// lookups of the objects (what: row or map entry) they name.
func (e *explainer) indexScan(a *Access, parent sym, what string, d int) {
	kind := "index " + a.Index.Name
	if a.Index.Unique {
		kind = "unique " + kind
	}
	lo, hi := e.bounds(a, parent.add(a.Index.AppendPrefix(nil, nil)))
	if a.Exact() {
		e.line(d, "get "+a.Path+e.page(kind, a))
		e.line(d+1, "key    "+lo.String())
		e.line(d+1, "then   get the "+what+" the entry names (its key is the entry's value)")
		return
	}
	e.line(d, "scan "+a.Path+e.page(kind, a))
	e.line(d+1, "range  ["+lo.String()+", "+hi.String()+")")
	e.line(d+1, "then   get each "+what+" an entry names (its key ends the entry's key), in index order")
	e.line(d+1, "batch  "+strconv.Itoa(IndexLookupBatch)+" entries at a time: what they name read in key order on one iterator, up to "+strconv.Itoa(IndexLookupBytes>>10)+" KiB of pairs copied per batch")
}

// A query through an index reads its entries in batches of at most
// IndexLookupBatch (and no more than the page can still return), then the
// objects a batch names in key order on one forward iterator, copying
// their pairs up to IndexLookupBytes per batch (what does not fit is read
// when its entry comes), then returns them in index order. Key and byte
// limits count what each result is read from, as if each object were
// sought in turn.
const (
	IndexLookupBatch = 64
	IndexLookupBytes = 256 << 10
)

// bounds returns the symbolic bounds of access a under parent (the table
// element for the root, the holding object's key for a map).
func (e *explainer) bounds(a *Access, parent sym) (lo, hi sym) {
	p := parent
	for i, op := range a.Points {
		p = e.elem(p, a.Cols[i], op)
	}
	switch {
	case a.Exact():
		return p, p.end()
	case a.Ranged:
		col := a.Cols[len(a.Points)]
		var lower, upper *sym
		if a.Lower != nil {
			k := e.elem(p, col, a.Lower)
			lower = &k
		}
		if a.Upper != nil {
			k := e.elem(p, col, a.Upper)
			upper = &k
		}
		return schema.Bounds(col, p.add(col.AppendTag(nil)), lower, upper, sym.end)
	case a.Map != nil && a.Index == nil && len(a.Points) == 0:
		base := p.add(a.Cols[0].AppendTag(nil))
		return base, base.end()
	}
	return p, p.end()
}

// elem appends the element of op in column col: concrete when the value
// is known, else the tag and the variable's name.
func (e *explainer) elem(p sym, col *schema.Column, op *Operand) sym {
	if op.Var == nil || e.b != nil {
		var v protoreflect.Value
		if op.Var == nil {
			v = op.Value
		} else {
			v = e.b.Value(op)
		}
		return p.add(col.Append(nil, v))
	}
	return p.variable(col.AppendTag(nil), "$"+op.Var.Name)
}

// sym is a key for Explain: elements, each known bytes or a variable's
// element, or a placeholder for a key that varies per row or entry.
type sym struct{ parts []symPart }

type symPart struct {
	raw  []byte // nil for variables and placeholders
	text string
}

func (s sym) with(p symPart) sym {
	return sym{parts: append(s.parts[:len(s.parts):len(s.parts)], p)}
}

func (s sym) add(elem []byte) sym { return s.with(symPart{raw: elem, text: hex.EncodeToString(elem)}) }

func (s sym) variable(tag []byte, name string) sym {
	return s.with(symPart{text: hex.EncodeToString(tag) + "‹" + name + "›"})
}

func (s sym) placeholder(what string) sym { return s.with(symPart{text: "‹" + what + "›"}) }

// apart returns the key of the row s (its table element and key columns,
// or a placeholder for any row) in the key space of f, a field of the row
// stored apart: the table element swapped for the field's apart element.
func (s sym) apart(f *schema.Field) sym {
	t := f.Parent.Table
	head := sym{}.add(t.AppendApartPrefix(nil, f))
	if len(s.parts) > 0 && s.parts[0].raw != nil && string(s.parts[0].raw) == string(t.AppendPrefix(nil)) {
		return sym{parts: append(head.parts, s.parts[1:]...)}
	}
	return head.placeholder("row key")
}

// end is tuple.PrefixEnd of the key: of its last element, since no element
// is all 0xFF bytes.
func (s sym) end() sym {
	last := s.parts[len(s.parts)-1]
	if last.raw == nil {
		return sym{parts: append(s.parts[:len(s.parts)-1:len(s.parts)-1], symPart{text: "end(" + last.text + ")"})}
	}
	pe := tuple.PrefixEnd(last.raw)
	return sym{parts: append(s.parts[:len(s.parts)-1:len(s.parts)-1], symPart{raw: pe, text: hex.EncodeToString(pe)})}
}

func (s sym) String() string {
	texts := make([]string, len(s.parts))
	for i, p := range s.parts {
		texts[i] = p.text
	}
	return strings.Join(texts, " ")
}
