package runtime

import (
	"cmp"
	"reflect"
	"slices"
	"unsafe"

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
	// indexes in fields in the order of the fields' numbers, which find
	// searches: a value's walk then costs O(log n) per field, not O(n),
	// for a type of many fields (an entry plan holds every field of the
	// map's value type it decodes, whatever the projection keeps).
	sorted []int32
}

// fieldUse is what decodeFields does with a field of its plan, for one
// projection and layout.
type fieldUse uint8

const (
	useSkip    fieldUse = iota // not kept: skipped, as the filter skips it
	useSet                     // kept and stored inline: decoded
	useDecline                 // kept but stored otherwise: declined
)

// fieldUses holds the answers decodeFields needs about each field of plan
// fp for projection p and layout node (Proj.Keeps, Node.Field), asked once
// (usesOf) rather than for every field of every value: a row plan's once
// for the plan, an entry plan's once per map read (directEntries.uses).
type fieldUses struct {
	fp   *fieldPlan
	p    *query.Proj
	node *schema.Node
	use  []fieldUse // by index in fp.fields
}

// usesOf sets u to the uses of fp's fields for projection p and layout
// node (nil: a row plan's fields, inline by construction), reusing u's
// slice.
func (fp *fieldPlan) usesOf(u *fieldUses, p *query.Proj, node *schema.Node) {
	use := u.use[:0]
	for i := range fp.fields {
		num := fp.fields[i].num
		switch {
		case !p.Keeps(num):
			use = append(use, useSkip)
		case node != nil && node.Field(num) != nil && node.Field(num).Storage != schema.Inline:
			use = append(use, useDecline)
		default:
			use = append(use, useSet)
		}
	}
	*u = fieldUses{fp: fp, p: p, node: node, use: use}
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
	if !ok || !ownStruct(m.ProtoReflect().Type(), pt) {
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

// decodeFields decodes value, filtered by the projection u.p, into the
// zero struct at base (a Go value of the plan's type) in one walk: every
// field of value must parse (ConsumeFieldValue, as the filter's); a field
// u.p keeps must be one the plan decodes, with its kind's one wire type
// (planField.set; checkValue's and the filter's wireTypeOK of a singular
// field), and, with u.node not nil (value's layout), one u.node stores
// inline (checkValue's check; a row plan's kept fields are inline by
// construction, see planField). u holds the plan's answers to those
// questions (usesOf); a field the plan does not hold is asked u.p. Strings
// go to rs (rowStrings.add): gathered for the caller to store, or, once a
// row scan's arena has a block, cut and stored in the struct at once. It
// returns the size of the kept fields (the filtered value's), or false
// when it declines, with the struct partly set (strings too) and rs not
// to be stored.
func (fp *fieldPlan) decodeFields(base unsafe.Pointer, value []byte, u *fieldUses, rs *rowStrings) (size int, ok bool) {
	// The tag of a field numbered 1 to 15 (one byte) and the skipped
	// short length-delimited value are read here, not called for: a
	// value's walk is a few calls per field otherwise.
	for b := value; len(b) > 0; {
		num, typ, tn := protowire.Number(b[0]>>3), protowire.Type(b[0]&7), 1
		if b[0] < 1<<3 || b[0] >= 0x80 {
			if num, typ, tn = protowire.ConsumeTag(b); tn < 0 {
				return 0, false
			}
		}
		v := b[tn:]
		// find, in line: it is past the inliner's budget (cost 97 of
		// 80), and its call would cost each field of each value.
		i := -1
		if fp.sorted == nil {
			for j := range fp.fields {
				if fp.fields[j].num == num {
					i = j
					break
				}
			}
		} else {
			i = fp.search(num)
		}
		var n int
		switch {
		case i < 0:
			if u.p.Keeps(num) {
				return 0, false
			}
			n = skipValue(num, typ, v)
		case u.use[i] == useSet:
			n = fp.fields[i].set(base, typ, v, rs)
			size += tn + n
		case u.use[i] != useSkip:
			return 0, false
		case typ == protowire.BytesType && len(v) > 0 && int(v[0]) < min(len(v), 0x80):
			n = 1 + int(v[0]) // ConsumeBytes of a length below 128
		default:
			n = skipValue(num, typ, v)
		}
		if n < 0 {
			return 0, false
		}
		b = v[n:]
	}
	return size, true
}

// skipValue is protowire.ConsumeFieldValue, doing what it does with the
// length-delimited and varint values without its call for them.
func skipValue(num protowire.Number, typ protowire.Type, b []byte) int {
	switch typ {
	case protowire.BytesType:
		_, n := protowire.ConsumeBytes(b)
		return n
	case protowire.VarintType:
		_, n := protowire.ConsumeVarint(b)
		return n
	}
	return protowire.ConsumeFieldValue(num, typ, b)
}

// find returns the index in fields of the plan's field numbered num, or
// -1. decodeFields repeats it in line on purpose (too costly for the
// inliner); the tests check this one (TestFieldPlanFind).
func (fp *fieldPlan) find(num protowire.Number) int {
	if fp.sorted == nil {
		for i := range fp.fields {
			if fp.fields[i].num == num {
				return i
			}
		}
		return -1
	}
	return fp.search(num)
}

// search is find in a plan of more than linearFields fields.
func (fp *fieldPlan) search(num protowire.Number) int {
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
		return int(fp.sorted[lo])
	}
	return -1
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
	c := &d.last
	if c.mp != mp {
		*c = lastMap{mp: mp, fp: mp.entryPlan(), slab: d.slabOf(mp.slice)}
	}
	fp := c.fp
	if fp == nil {
		return 0, 0, false
	}
	u := &d.uses
	if u.fp != fp || u.p != p || u.node != node {
		fp.usesOf(u, p, node)
	}
	slab, base := c.slab, d.next(c.slab)
	rs := &d.rs // empty: forgotten after each value
	if size, ok = fp.decodeFields(base, value, u, rs); !ok {
		ds := &d.decoded[slab]
		ds.vals.Index(ds.n).SetZero()
		rs.forget()
		return 0, 0, false
	}
	rs.store(base, nil)
	rs.forget()
	d.decoded[slab].n++
	return slab, size, true
}

// slabOf returns the index in d.decoded of the slab of values of slice
// type st (a []V), added when there is none.
func (d *directEntries) slabOf(st reflect.Type) int {
	for i := range d.decoded {
		if d.decoded[i].typ == st {
			return i
		}
	}
	d.decoded = append(d.decoded, decodedSlab{typ: st, size: st.Elem().Size()})
	return len(d.decoded) - 1
}

// next returns the address of the next free value of slab i, zero,
// allocating the slab (d.hint values, 8 without a hint) or growing it as
// needed (its values not yet taken by fill are copied: nothing points to
// them).
func (d *directEntries) next(i int) unsafe.Pointer {
	ds := &d.decoded[i]
	switch {
	case ds.base == nil:
		n := d.slabSize()
		ds.set(reflect.MakeSlice(ds.typ, n, n), n)
		ds.grown = false
	case ds.n == ds.len:
		grown := reflect.MakeSlice(ds.typ, 2*ds.n, 2*ds.n)
		reflect.Copy(grown, ds.vals)
		ds.set(grown, 2*ds.n)
		ds.grown = true
	}
	return ds.at(ds.n)
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
