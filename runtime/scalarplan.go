package runtime

import (
	"reflect"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The scalar plan of a map's value type decodes a projected map entry
// that a query keeps aside from the assembler (directEntry, direct.go)
// straight from the stored value: filter and decode in one walk of it,
// with protowire, each kept field stored into its Go struct field by the
// row scan's field coders (rowplan.go planField.set), which decode exactly
// as proto.Unmarshal does for the fields they accept. The value is
// neither copied aside nor decoded by proto.Unmarshal; fillMaps copies
// the decoded value into its slot of the map's values.
//
// The plan covers every field of the value type that such a coder decodes
// (planKind). A value holding a kept field the plan does not decode (or
// one the Go type does not know, or one stored otherwise than inline), a
// wire type other than the field's, a malformed field (kept or not) or a
// string that is not valid UTF-8 is declined: directEntry then filters,
// checks and keeps the value aside as before, and fillMaps decodes it with
// proto.Unmarshal, which sets it or reports the corruption exactly as
// before.

// scalarPlan decodes values of one generated Go message type.
type scalarPlan struct {
	fields []planField
}

// scalarPlanBox boxes a plan that may be nil (see decodePlanBox).
type scalarPlanBox struct{ p *scalarPlan }

// scalarPlan returns the scalar plan of the map's value type, nil when
// it has none (required fields, no field it decodes), looked up the first
// time.
func (mp *mapPlan) scalarPlan() *scalarPlan {
	if v := mp.scalars.Load(); v != nil {
		return v.p
	}
	p := newScalarPlan(mp.mapType.Elem())
	mp.scalars.Store(&scalarPlanBox{p})
	return p
}

// newScalarPlan builds the plan of the generated message type pt (a
// pointer to a struct), or nil.
func newScalarPlan(pt reflect.Type) *scalarPlan {
	m, ok := reflect.Zero(pt).Interface().(proto.Message)
	if !ok {
		return nil
	}
	md := m.ProtoReflect().Descriptor()
	if md.RequiredNumbers().Len() > 0 {
		return nil // Unmarshal checks them
	}
	typ := pt.Elem()
	byNum := structFields(typ)
	sp := &scalarPlan{}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		idx, ok := byNum[fd.Number()]
		if ok && plannable(fd, typ.Field(idx)) {
			sp.fields = append(sp.fields, planField{num: fd.Number(), kind: fd.Kind(), index: idx})
		}
	}
	if len(sp.fields) == 0 {
		return nil
	}
	return sp
}

// decodeEntry decodes value, the stored value of an entry of map
// d.plan.maps[mi] with layout node, filtered by the projection p, into a
// new value of d.decoded, as directEntry's filter, checks and fillMaps'
// proto.Unmarshal of the filtered value give it: every field of value
// must parse (ConsumeFieldValue, as the filter's), each one p keeps must
// be one the plan decodes, stored inline (checkValue's check; its wire
// type is the one planField.set takes, checkValue's wireTypeOK of a
// singular field), decoded as proto.Unmarshal does (planField.set). It
// returns its slab's index in d.decoded (the value is the slab's last) and the size of the
// kept fields (the filtered value's), or ok false, having set nothing,
// when it declines: the caller then filters, checks and keeps the value
// aside as before, which reports any corruption as before.
func (d *directEntries) decodeEntry(mi int, value []byte, p *query.Proj, node *schema.Node) (slab, size int, ok bool) {
	mp := &d.plan.maps[mi]
	sp := mp.scalarPlan()
	if sp == nil {
		return 0, 0, false
	}
	slab, v := d.next(mp.slice)
	var rs rowStrings
	for b := value; len(b) > 0; {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			v.SetZero()
			return 0, 0, false
		}
		var vn int
		if !p.Keeps(num) {
			vn = protowire.ConsumeFieldValue(num, typ, b[tn:])
		} else if f := sp.field(num); f == nil {
			vn = -1
		} else if nf := node.Field(num); nf != nil && nf.Storage != schema.Inline {
			vn = -1
		} else {
			vn = f.set(v, typ, b[tn:], &rs)
			size += tn + vn
		}
		if vn < 0 {
			v.SetZero()
			return 0, 0, false
		}
		b = b[tn+vn:]
	}
	rs.store(v)
	d.decoded[slab].n++
	return slab, size, true
}

// next returns the next free value of the slab of values of slice type
// st (a []V) and the slab's index, zero, growing the slab as needed (its
// values not yet taken by fill are copied: nothing points to them).
func (d *directEntries) next(st reflect.Type) (int, reflect.Value) {
	i := 0
	for i < len(d.decoded) && d.decoded[i].vals.Type() != st {
		i++
	}
	if i == len(d.decoded) {
		d.decoded = append(d.decoded, decodedSlab{vals: reflect.MakeSlice(st, 16, 16)})
	}
	ds := &d.decoded[i]
	if ds.n == ds.vals.Len() {
		grown := reflect.MakeSlice(st, 2*ds.n, 2*ds.n)
		reflect.Copy(grown, ds.vals)
		ds.vals = grown
	}
	return i, ds.vals.Index(ds.n)
}

// addDecoded keeps aside the entry keyed key of plan.maps[mi] whose value
// decodeEntry decoded last, into d.decoded[slab].
func (d *directEntries) addDecoded(mi int, key []byte, slab int) {
	d.ents = append(d.ents, directEntry{plan: mi, keyLen: len(key), plain: true, dec: d.decoded[slab].n, slab: slab})
	d.keys = append(d.keys, key...)
}

// field returns the plan's field numbered num, or nil.
func (sp *scalarPlan) field(num protowire.Number) *planField {
	for i := range sp.fields {
		if sp.fields[i].num == num {
			return &sp.fields[i]
		}
	}
	return nil
}
