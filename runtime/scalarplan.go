package runtime

import (
	"cmp"
	"reflect"
	"slices"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A field plan (fieldPlan) decodes the scalar fields of a stored value
// straight into a generated Go struct, in one walk of the value with
// protowire: the fields the projection keeps are decoded by the plan's
// field coders (planField.set, which decode exactly as proto.Unmarshal
// does for the fields planKind admits), the others skipped, as the filter
// (exec.filterChecked) skips them. It serves both one-pass decodes: a row
// scan's rows (rowPlan, rowplan.go, whose field plan holds the kept fields
// only) and the map entries kept aside from the assembler, a query's
// projected ones (directEntry, direct.go) and those of a row read whole
// (keepWhole: a whole-row Get, every field kept), whose field plan, one
// per map value type (mapPlan.entryPlan), holds every field such a coder
// decodes.
//
// A value holding a kept field the plan does not decode (or one the Go
// type does not know, or one stored otherwise than inline), a wire type
// other than the field's, a malformed field (kept or not) or a string that
// is not valid UTF-8 is declined: the caller then filters, checks and
// decodes the value the way the plan replaces (for an entry: kept aside
// filtered, or whole, decoded by fillMaps with proto.Unmarshal), which
// sets it or reports the corruption exactly as before. An entry's decoded
// value is neither copied aside nor decoded by proto.Unmarshal: it lies
// in a slab of such values that fill hands to the map whole
// (directEntries.decoded), where it is the entry's slot.

// fieldPlan decodes values of one generated Go message type.
type fieldPlan struct {
	fields []planField
	// sorted, for a plan of more than linearFields fields, holds the
	// indexes in fields in the order of the fields' numbers, which field
	// searches: a value's walk then costs O(log n) per field, not O(n),
	// for a type of many fields (an entry plan holds every field of the
	// map's value type it decodes, whatever the projection keeps).
	sorted []int32
	// kept is set when the projection decodeFields is given keeps every field
	// of fields (a row plan's, built for its projection); else decodeFields
	// asks the projection about each.
	kept bool
}

// fieldPlanBox boxes a plan that may be nil (see decodePlanBox).
type fieldPlanBox struct{ p *fieldPlan }

// entryPlan returns the field plan of the map's value type, nil when it
// has none (required fields, no field it decodes), looked up the first
// time.
func (mp *mapPlan) entryPlan() *fieldPlan {
	if v := mp.entries.Load(); v != nil {
		return v.p
	}
	p := newEntryPlan(mp.mapType.Elem())
	mp.entries.Store(&fieldPlanBox{p})
	return p
}

// newEntryPlan builds the plan of every field of the generated message
// type pt (a pointer to a struct) that planKind admits, or nil.
func newEntryPlan(pt reflect.Type) *fieldPlan {
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
	fp := &fieldPlan{}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		idx, ok := byNum[fd.Number()]
		if ok && plannable(fd, typ.Field(idx)) {
			fp.fields = append(fp.fields, newPlanField(fd, typ, idx))
		}
	}
	if len(fp.fields) == 0 {
		return nil
	}
	fp.index()
	return fp
}

// linearFields is the most fields a plan finds by a linear search.
const linearFields = 8

// index builds sorted, once fields is complete.
func (fp *fieldPlan) index() {
	if len(fp.fields) <= linearFields {
		fp.sorted = nil
		return
	}
	fp.sorted = make([]int32, len(fp.fields))
	for i := range fp.sorted {
		fp.sorted[i] = int32(i)
	}
	slices.SortFunc(fp.sorted, func(a, b int32) int { return cmp.Compare(fp.fields[a].num, fp.fields[b].num) })
}

// decodeFields decodes value, filtered by the projection p, into the zero
// struct v in one walk: every field of value must parse
// (ConsumeFieldValue, as the filter's); a field p keeps must be one the
// plan decodes, with its kind's one wire type (planField.set; checkValue's
// and the filter's wireTypeOK of a singular field), and, with node not
// nil (value's layout), one node stores inline (checkValue's check; a row
// plan's kept fields are inline by construction, see planField). Strings
// go to rs, which the caller stores. It returns the size of the kept
// fields (the filtered value's), or false when it declines, with v partly
// set and rs not to be stored.
func (fp *fieldPlan) decodeFields(v reflect.Value, value []byte, p *query.Proj, node *schema.Node, rs *rowStrings) (size int, ok bool) {
	for b := value; len(b) > 0; {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			return 0, false
		}
		b = b[tn:]
		var n int
		switch f := fp.field(num); {
		case f != nil && (fp.kept || p.Keeps(num)):
			if node != nil {
				if nf := node.Field(num); nf != nil && nf.Storage != schema.Inline {
					return 0, false
				}
			}
			n = f.set(v, typ, b, rs)
			size += tn + n
		case p.Keeps(num):
			return 0, false
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return 0, false
		}
		b = b[n:]
	}
	return size, true
}

// field returns the plan's field numbered num, or nil.
func (fp *fieldPlan) field(num protowire.Number) *planField {
	if fp.sorted != nil {
		lo, hi := 0, len(fp.sorted)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if fp.fields[fp.sorted[m]].num < num {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo < len(fp.sorted) && fp.fields[fp.sorted[lo]].num == num {
			return &fp.fields[fp.sorted[lo]]
		}
		return nil
	}
	for i := range fp.fields {
		if fp.fields[i].num == num {
			return &fp.fields[i]
		}
	}
	return nil
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
	fp := mp.entryPlan()
	if fp == nil {
		return 0, 0, false
	}
	slab, v := d.next(mp.slice)
	var rs rowStrings
	if size, ok = fp.decodeFields(v, value, p, node, &rs); !ok {
		v.SetZero()
		return 0, 0, false
	}
	rs.store(v)
	d.decoded[slab].n++
	return slab, size, true
}

// next returns the next free value of the slab of values of slice type
// st (a []V) and the slab's index, zero, allocating the slab (d.hint
// values, 8 without a hint) or growing it as needed (its values not yet
// taken by fill are copied: nothing points to them).
func (d *directEntries) next(st reflect.Type) (int, reflect.Value) {
	i := 0
	for i < len(d.decoded) && d.decoded[i].typ != st {
		i++
	}
	if i == len(d.decoded) {
		d.decoded = append(d.decoded, decodedSlab{typ: st})
	}
	ds := &d.decoded[i]
	switch {
	case !ds.vals.IsValid():
		n := d.slabSize()
		ds.vals, ds.grown = reflect.MakeSlice(st, n, n), false
	case ds.n == ds.vals.Len():
		grown := reflect.MakeSlice(st, 2*ds.n, 2*ds.n)
		reflect.Copy(grown, ds.vals)
		ds.vals, ds.grown = grown, true
	}
	return i, ds.vals.Index(ds.n)
}

// slabSize returns the number of values a slab of decoded entries is
// allocated with: d.hint, 8 without one.
func (d *directEntries) slabSize() int {
	if d.hint > 0 {
		return d.hint
	}
	return 8
}

// addDecoded keeps aside the entry keyed key of plan.maps[mi] whose value
// decodeEntry decoded last, into d.decoded[slab].
func (d *directEntries) addDecoded(mi int, key []byte, slab int) {
	d.ents = append(d.ents, directEntry{plan: mi, keyLen: len(key), plain: true, dec: d.decoded[slab].n, slab: slab})
	d.keys = append(d.keys, key...)
}
