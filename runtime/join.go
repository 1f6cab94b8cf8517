package runtime

import (
	"bytes"
	"slices"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// joinReq asks for the target row at key, to be set in holder's join
// field.
type joinReq struct {
	ch     *query.Child
	holder protoreflect.Message
	key    []byte
}

// mapKey is the key of an enclosing map entry, for "$map" join sources.
type mapKey struct {
	field *schema.Field
	value protoreflect.Value
}

// joins fills the selected join fields of m (a decoded object with
// projection p, and everything below it): the target keys are gathered
// first, then each join field's targets are read in key order with one
// iterator.
func (e *exec) joins(m protoreflect.Message, p *query.Proj) error {
	var reqs []joinReq
	e.collect(m, p, nil, &reqs)
	for len(reqs) > 0 {
		ch := reqs[0].ch
		var group, rest []joinReq
		for _, r := range reqs {
			if r.ch == ch {
				group = append(group, r)
			} else {
				rest = append(rest, r)
			}
		}
		if err := e.fetchJoin(ch, group); err != nil {
			return err
		}
		reqs = rest
	}
	return nil
}

// collect gathers the join requests of m and below, and clears the inline
// fields read only as join sources.
func (e *exec) collect(m protoreflect.Message, p *query.Proj, keys []mapKey, reqs *[]joinReq) {
	fields := m.Descriptor().Fields()
	for _, j := range p.Joins {
		key := j.Target.AppendPrefix(bytes.Clone(e.db.ns))
		for i, src := range j.Field.Join.Sources {
			var v protoreflect.Value
			from := src.Field
			if src.Map != nil {
				from = src.Map.MapKey
				for k := len(keys) - 1; k >= 0; k-- {
					if keys[k].field == src.Map {
						v = keys[k].value
						break
					}
				}
			} else {
				v = m.Get(fields.ByNumber(src.Field.Number()))
			}
			key = j.Target.Key[i].AppendFrom(key, from, v)
		}
		*reqs = append(*reqs, joinReq{ch: j, holder: m, key: key})
	}
	for _, f := range p.Hidden {
		m.Clear(fields.ByNumber(f.Number()))
	}
	for _, ch := range p.Children {
		if ch.Proj == nil || !ch.Proj.HasJoins() {
			continue
		}
		fd := fields.ByNumber(ch.Field.Number())
		switch ch.Field.Storage {
		case schema.Object:
			if m.Has(fd) {
				e.collect(m.Mutable(fd).Message(), ch.Proj, keys, reqs)
			}
		case schema.Map:
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				e.collect(v.Message(), ch.Proj, append(keys[:len(keys):len(keys)], mapKey{ch.Field, k.Value()}), reqs)
				return true
			})
		}
	}
}

// fetchJoin reads the target rows of one join field, sorted and deduplicated,
// with one iterator, and sets each in its holders.
func (e *exec) fetchJoin(ch *query.Child, group []joinReq) error {
	slices.SortStableFunc(group, func(a, b joinReq) int { return bytes.Compare(a.key, b.key) })
	t := e.db.tables[ch.Target.ID]
	w, err := e.walker(group[0].key, tuple.PrefixEnd(group[len(group)-1].key), false)
	if err != nil {
		return err
	}
	defer w.closeInto(&e.closeErr)
	inJoin := e.inJoin
	e.inJoin = true
	defer func() { e.inJoin = inJoin }()
	fd := ch.Field.Desc
	for i := 0; i < len(group); {
		j := i + 1
		for j < len(group) && bytes.Equal(group[j].key, group[i].key) {
			j++
		}
		key := group[i].key
		e.asm.reset(key, t.s.Root)
		found, err := e.object(w, key, ch.Proj, 0)
		if err != nil {
			return err
		}
		if found {
			m, err := e.decodeRow(t, key, ch.Proj)
			if err != nil {
				return err
			}
			for k := i; k < j; k++ {
				if k > i {
					if m, err = e.copyRow(t, key, m); err != nil {
						return err
					}
				}
				group[k].holder.Set(group[k].holder.Descriptor().Fields().ByNumber(fd.Number()), protoreflect.ValueOfMessage(m.ProtoReflect()))
			}
		}
		i = j
	}
	return nil
}

// copyRow returns a copy of the joined row m for another holder. It goes
// through the wire form rather than proto.Clone: Clone of a generated
// message drops -0.0 from proto3 float fields, and results must be bit for
// bit what is stored.
func (e *exec) copyRow(t *Table, key []byte, m proto.Message) (proto.Message, error) {
	var err error
	if e.copyBuf, err = copyMarshal.MarshalAppend(e.copyBuf[:0], m); err != nil {
		return nil, corrupt(key, "copying joined %s: %v", t.s.Desc.FullName(), err)
	}
	c := e.db.NewMessage(t.s.Desc)
	opts := e.db.unmarshalOptions()
	opts.AllowPartial = true
	if err := opts.Unmarshal(e.copyBuf, c.Interface()); err != nil {
		return nil, corrupt(key, "copying joined %s: %v", t.s.Desc.FullName(), err)
	}
	return c.Interface(), nil
}

// copyMarshal keeps whatever a decoded row holds, set or not required.
var copyMarshal = proto.MarshalOptions{AllowPartial: true}
