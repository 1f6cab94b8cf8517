package querytest

import (
	"bytes"
	"cmp"
	"slices"
	"sort"
	"strings"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// model is the naive evaluator: the rows as Put, in memory, and a direct
// reading of a bound plan over them (filter, sort, page, project), sharing
// nothing with the executor but the plan.
type model struct {
	rows map[protoreflect.FullName][]proto.Message
}

func newModel(msgs []proto.Message) *model {
	m := &model{rows: map[protoreflect.FullName][]proto.Message{}}
	for _, msg := range msgs {
		name := msg.ProtoReflect().Descriptor().FullName()
		m.rows[name] = append(m.rows[name], msg)
	}
	return m
}

type mapKey struct {
	field *schema.Field
	value protoreflect.Value
}

// eval returns the results of b in order.
func (m *model) eval(b *query.Bound) []proto.Message {
	p := b.Plan
	var cols []keyCol
	for _, c := range p.Table.Key {
		cols = append(cols, keyCol{num: c.Field.Number(), desc: c.Kind.IsDescending()})
	}
	rows := m.rows[p.Table.Desc.FullName()]
	keyOf := func(r proto.Message) []protoreflect.Value {
		pm := r.ProtoReflect()
		var vals []protoreflect.Value
		for _, c := range cols {
			vals = append(vals, pm.Get(pm.Descriptor().Fields().ByNumber(c.num)))
		}
		return vals
	}
	var out []proto.Message
	sel := func() []int {
		if p.Root.Index != nil {
			return indexSelect(b, p.Root, cols, len(rows), func(i int) protoreflect.Message { return rows[i].ProtoReflect() }, func(i int) []protoreflect.Value { return keyOf(rows[i]) })
		}
		return selectKeys(b, p.Root, cols, len(rows), func(i int) []protoreflect.Value { return keyOf(rows[i]) })
	}
	for _, i := range sel() {
		out = append(out, m.project(rows[i].ProtoReflect(), p.Proj, b, nil).Interface())
	}
	return out
}

type keyCol struct {
	num  protoreflect.FieldNumber
	desc bool
}

// selectKeys returns the indexes of the n candidates (with key values keyOf)
// that access a selects, in result order.
func selectKeys(b *query.Bound, a *query.Access, cols []keyCol, n int, keyOf func(int) []protoreflect.Value) []int {
	ba := b.Access(a)
	var idx []int
	for i := range n {
		k := keyOf(i)
		ok := true
		for j, op := range a.Points {
			ok = ok && compare(k[j], b.Value(op)) == 0
		}
		if a.Ranged {
			v := k[len(a.Points)]
			if a.Lower != nil {
				ok = ok && compare(v, b.Value(a.Lower)) >= 0
			}
			if a.Upper != nil {
				ok = ok && compare(v, b.Value(a.Upper)) < 0
			}
		}
		if ok {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(x, y int) bool {
		kx, ky := keyOf(idx[x]), keyOf(idx[y])
		for j, c := range cols {
			d := compare(kx[j], ky[j])
			if c.desc {
				d = -d
			}
			if d != 0 {
				return d < 0
			}
		}
		return false
	})
	if ba.Reverse {
		slices.Reverse(idx)
	}
	if ba.First > 0 && len(idx) > ba.First {
		idx = idx[:ba.First]
	}
	return idx
}

func compare(a, b protoreflect.Value) int {
	switch x := a.Interface().(type) {
	case string:
		return strings.Compare(x, b.String())
	case []byte:
		return bytes.Compare(x, b.Bytes())
	case bool:
		switch {
		case x == b.Bool():
			return 0
		case x:
			return 1
		}
		return -1
	case protoreflect.EnumNumber:
		return cmp.Compare(x, b.Enum())
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	}
	return cmp.Compare(a.Uint(), b.Uint())
}

// project copies what p selects of src.
func (m *model) project(src protoreflect.Message, p *query.Proj, b *query.Bound, keys []mapKey) protoreflect.Message {
	if p.All {
		return proto.Clone(src.Interface()).ProtoReflect()
	}
	dst := src.New()
	fields := src.Descriptor().Fields()
	copyField := func(num protoreflect.FieldNumber) {
		if fd := fields.ByNumber(num); src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		}
	}
	if p.Node.Parent == nil {
		for _, c := range p.Node.Table.Key {
			copyField(c.Field.Number())
		}
	}
	for _, f := range p.Inline {
		copyField(f.Number())
	}
	for _, ch := range p.Children {
		fd := fields.ByNumber(ch.Field.Number())
		switch ch.Field.Storage {
		case schema.Breakout:
			copyField(fd.Number())
		case schema.Object:
			if src.Has(fd) {
				dst.Set(fd, protoreflect.ValueOfMessage(m.project(src.Get(fd).Message(), ch.Proj, b, keys)))
			}
		case schema.Map:
			m.projectMap(src, dst, fd, ch, b, keys)
		}
	}
	for _, j := range p.Joins {
		if t := m.joinTarget(src, j, keys); t != nil {
			dst.Set(fields.ByNumber(j.Field.Number()), protoreflect.ValueOfMessage(m.project(t, j.Proj, b, nil)))
		}
	}
	return dst
}

func (m *model) projectMap(src, dst protoreflect.Message, fd protoreflect.FieldDescriptor, ch *query.Child, b *query.Bound, keys []mapKey) {
	sm := src.Get(fd).Map()
	var mks []protoreflect.MapKey
	sm.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		mks = append(mks, k)
		return true
	})
	sel := make([]int, len(mks))
	for i := range sel {
		sel[i] = i
	}
	if ch.Access != nil {
		cols := []keyCol{{desc: ch.Field.ElemKind.IsDescending()}}
		keyOf := func(i int) []protoreflect.Value { return []protoreflect.Value{mks[i].Value()} }
		if ch.Access.Index != nil {
			sel = indexSelect(b, ch.Access, cols, len(mks), func(i int) protoreflect.Message { return sm.Get(mks[i]).Message() }, keyOf)
		} else {
			sel = selectKeys(b, ch.Access, cols, len(mks), keyOf)
		}
	}
	if len(sel) == 0 {
		return
	}
	dm := dst.Mutable(fd).Map()
	for _, i := range sel {
		v := sm.Get(mks[i])
		if ch.Proj != nil {
			v = protoreflect.ValueOfMessage(m.project(v.Message(), ch.Proj, b, append(keys[:len(keys):len(keys)], mapKey{ch.Field, mks[i].Value()})))
		}
		dm.Set(mks[i], v)
	}
}

// joinTarget finds the row a join of src points at.
func (m *model) joinTarget(src protoreflect.Message, j *query.Child, keys []mapKey) protoreflect.Message {
	var want []protoreflect.Value
	for _, s := range j.Field.Join.Sources {
		if s.Map != nil {
			for k := len(keys) - 1; k >= 0; k-- {
				if keys[k].field == s.Map {
					want = append(want, keys[k].value)
					break
				}
			}
		} else {
			want = append(want, src.Get(src.Descriptor().Fields().ByNumber(s.Field.Number())))
		}
	}
	for _, r := range m.rows[j.Target.Desc.FullName()] {
		pm := r.ProtoReflect()
		match := true
		for i, c := range j.Target.Key {
			match = match && compare(pm.Get(pm.Descriptor().Fields().ByNumber(c.Field.Number())), want[i]) == 0
		}
		if match {
			return pm
		}
	}
	return nil
}
