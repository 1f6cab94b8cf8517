package runtime

import (
	"bytes"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Direct map entries: the entries of a map of messages in a queried row,
// kept out of the assembler.
//
// A row's result is its reassembled wire bytes decoded in one go
// (decodeRow). For a map of the row whose entries the projection reads as
// their own value only (inline fields, nothing stored under the entry), the
// assembler would write each entry's key and filtered value into the row's
// bytes, and the decoder would then split them out again to fill the Go map
// (decode.go). A row read by a query (exec.row) instead keeps such entries
// aside, as the entry's key and its filtered, checked value, and decodeRow
// fills the map from them after decoding the rest of the row: the same
// fillMaps the decoder uses for the entries it splits out (or, when every
// entry was decoded as it was kept aside, fillDecoded, which sets them as
// fillMaps sets a decoded entry), so the message is the one the assembled
// bytes give. Any entry this path does not take as is
// (a key that is not one valid UTF-8 string element of the map, a resumed
// entry) goes through the assembler as before, and decodeRow adds the
// entries kept aside to what the decode made of it. A value the field
// plan of the map's value type takes is decoded as it is kept aside
// (scalarplan.go), for a projected entry (directEntry) and for one of a
// row read whole (keepWhole) alike, and fill sets it as it lies.

// directEntries collects the entries kept aside for the row being read.
type directEntries struct {
	// on is set while exec.row (or get) reads a row whose type has
	// string-keyed maps of messages; plan is the decode plan of the
	// message the row is decoded into, node the row's layout.
	on   bool
	plan *msgPlan
	node *schema.Node
	ents []directEntry
	keys []byte // the entries' keys, one after the other
	vals []byte // the entries' filtered values, one after the other
	// wire holds the entries as fillMaps takes them, built at the end.
	wire []mapEntryWire
	// decoded holds the values decoded by their field plan, one slab
	// per value type. fill hands a nearly full slab never grown to the
	// row's maps as it is (its values their slots), and the next row's
	// decodes allocate a new slab; the values of any other slab are
	// copied out and the slab kept, zeroed, for the next row (see fill).
	decoded []decodedSlab
	// hint sizes a slab allocated for the map scan being read: its page
	// size (first:), bounded; 0 when it has none (see slabSize).
	hint int
	// out holds, during fill, the values of each slab the maps take.
	out []decodedSlab
	// last holds what decodeEntry derives from the map it decoded an
	// entry of last.
	last lastMap
	// uses holds the answers of the entry plan last used (decodeEntry)
	// for the projection and layout it was used with, and rs the strings
	// of the value being decoded: both kept for the next entry, the uses
	// until trim (not across calls).
	uses fieldUses
	rs   rowStrings
	// cell is an addressable *V (cellType), where fillDecoded puts each
	// decoded value's address to set it into its map, and key an
	// addressable string, its key (both reached through cellAt and keyAt).
	cell, key reflect.Value
	cellType  reflect.Type
	cellAt    *unsafe.Pointer
	keyAt     *string
	// child holds what the map being read derives from its query.Child
	// alone (childOf), so that its entries do not derive it again.
	child dirChild
}

// lastMap is what decodeEntry derives from a map's plan mp, kept for the
// map's next entry: the field plan of its value type and the index of
// the slab of its values in d.decoded (a slab stays at its index until
// trim drops them all, and last with them).
type lastMap struct {
	mp   *mapPlan
	fp   *fieldPlan
	slab int
}

// dirChild is what directMap and directEntry derive from the query.Child
// of a map and the row's plan and layout, for each of its entries.
type dirChild struct {
	ch *query.Child // nil: nothing derived
	// mi is the map's index in plan.maps when ch's projection selects
	// inline fields only, else -1.
	mi int
	// plain: the projection keeps no inline map (keepsMap).
	plain bool
	// f is the map's layout in the row's node, found by ch's field
	// number and key kind, when it is that field's and stores its
	// entries under their keys (f.Child); else nil.
	f *schema.Field
}

// childOf returns what the entries of map ch derive from it, derived once
// per row and map (start forgets it: the row's plan and layout may be
// another table's).
func (d *directEntries) childOf(ch *query.Child) *dirChild {
	if d.child.ch == ch {
		return &d.child
	}
	return d.derive(ch)
}

// derive sets d.child to what the entries of map ch derive from it
// (childOf, kept small to be inlined, calls it once per row and map).
func (d *directEntries) derive(ch *query.Child) *dirChild {
	p := ch.Proj
	mi := -1
	if !p.All && len(p.Children) == 0 && len(p.Hidden) == 0 && !p.HasJoins() {
		mi = d.plan.mapOf(ch.Field.Number())
	}
	f := d.node.Child(uint32(ch.Field.Number()), ch.Field.ElemKind)
	if f != nil && (f.Number() != ch.Field.Number() || f.Child == nil) {
		f = nil
	}
	d.child = dirChild{ch: ch, mi: mi, plain: !keepsMap(p), f: f}
	return &d.child
}

// decodedSlab holds decoded values of one type: n of them in vals, a
// []V of type typ (the map's mapPlan.slice); vals is not valid, and base
// nil, when no slab is allocated (none yet, or fill handed it out).
type decodedSlab struct {
	typ  reflect.Type
	vals reflect.Value
	// base is the address of vals' first value and len its length; size
	// is the size of a V: the values' addresses are computed (at), not
	// asked of reflect (Index, then Addr or UnsafeAddr) for each.
	base unsafe.Pointer
	len  int
	size uintptr
	n    int
	// grown: next grew vals past the size it was allocated with.
	grown bool
}

// set makes vals, a []V of length n, the slab's values.
func (ds *decodedSlab) set(vals reflect.Value, n int) {
	ds.vals, ds.base, ds.len = vals, vals.UnsafePointer(), n
}

// take hands the slab's values out (fill: they become the maps'): the
// slab holds none after it.
func (ds *decodedSlab) take() {
	ds.vals, ds.base, ds.len, ds.n = reflect.Value{}, nil, 0, 0
}

// at returns the address of the slab's value i (i < len): a V inside the
// slab's one allocation.
func (ds *decodedSlab) at(i int) unsafe.Pointer {
	return unsafe.Add(ds.base, uintptr(i)*ds.size)
}

type directEntry struct {
	plan           int // index of the map in plan.maps
	keyLen, valLen int
	// plain: the projection keeps no inline map of the entry's value, so
	// the filtered value holds none for the decoder to split out.
	plain bool
	// dec, when not 0, is 1 + the index of the entry's value decoded
	// by the field plan in d.decoded[slab]; valLen is then 0, or, for
	// an entry read whole (keepWhole), its stored value's length, kept
	// for dropLast.
	dec, slab int
}

// noDirectEntries, set by tests and benchmarks only, sends every entry
// through the assembler.
var noDirectEntries atomic.Bool

// noScalarEntries, set by tests and benchmarks only, decodes every entry
// kept aside with proto.Unmarshal rather than its field plan.
var noScalarEntries atomic.Bool

// start begins a row with layout n decoded into a message with plan p
// (nil: nothing is kept aside).
func (d *directEntries) start(p *msgPlan, n *schema.Node) {
	d.on, d.plan, d.node = p != nil && len(p.maps) > 0 && !noDirectEntries.Load(), p, n
	d.ents, d.keys, d.vals, d.child = d.ents[:0], d.keys[:0], d.vals[:0], dirChild{}
	d.clearDecoded()
}

// clearDecoded zeroes the decoded values fill did not hand out, for the
// next row.
func (d *directEntries) clearDecoded() {
	for i := range d.decoded {
		ds := &d.decoded[i]
		if ds.n > 0 && 2*ds.n >= ds.vals.Len() {
			// One clear of the whole slab (its values past n are zero
			// already: next hands out zero values), not a reflect call
			// per value; Slice(0, n) would allocate its Value's slice.
			ds.vals.Clear()
		} else {
			for j := range ds.n {
				ds.vals.Index(j).SetZero()
			}
		}
		ds.n = 0
	}
}

// stop ends collecting, keeping what was collected for fill.
func (d *directEntries) stop() { d.on = false }

// trim drops buffers grown past max (see exec.release).
func (d *directEntries) trim(max int) {
	d.clearDecoded()
	if cap(d.keys) > max || cap(d.vals) > max || cap(d.ents) > max/16 || cap(d.wire) > max/32 {
		*d = directEntries{}
	}
	for _, ds := range d.decoded {
		if ds.vals.IsValid() && ds.vals.Len()*int(ds.typ.Elem().Size()) > max {
			d.decoded, d.last = nil, lastMap{}
			break
		}
	}
	d.on, d.plan, d.node, d.hint, d.child = false, nil, nil, 0, dirChild{}
	// The uses name the call's projection and layout: kept, they would pin
	// the compiled query and the catalog in the pool.
	d.uses = fieldUses{use: d.uses.use[:0]}
}

// directMap returns the index in the row plan of the map that ch reads when its
// entries may be kept aside, or -1: a map of the row itself (depth 1,
// outside joins) whose entries' projection selects inline fields only.
func (e *exec) directMap(ch *query.Child, depth int) int {
	if !e.dir.on || depth != 1 || e.inJoin || e.resume != nil {
		return -1
	}
	return e.dir.childOf(ch).mi
}

// directEntry reads the entry at key (its parent's key is key[:parentLen])
// of map ch, which is plan.maps[mi], and keeps it aside; handled is false
// when the entry must go through the assembler instead, the walker not
// having moved. facts is what the stepper found out about key: unitPlain,
// that key[parentLen:] is one plain element, whose payload need not be
// looked for; unitOn, that w stands on key, so that no seek or compare
// needs to find it there.
func (e *exec) directEntry(w *walker, key []byte, parentLen int, ch *query.Child, mi int, facts unitFacts) (found, handled bool, err error) {
	// The entry's key element: most often a plain string of the map's
	// own field, which PlainBytes reads as DecodeElement would.
	var el tuple.Element
	var n int
	c := e.dir.childOf(ch)
	// The entry's layout as the assembler finds it (the plan may come
	// from another catalog of the same schema): for a plain element of
	// the map's own field, the one childOf found.
	var f *schema.Field
	num, kind := uint32(ch.Field.Number()), ch.Field.ElemKind
	var pb []byte
	known := false // the stepper found the element plain, of num and kind
	if facts&unitPlain != 0 {
		pb, known = plainElement(key[parentLen:], num, kind)
	}
	if known {
		el, n, f = tuple.Element{Field: num, Kind: kind, Bytes: pb}, len(key)-parentLen, c.f
	} else if b, pn, ok := tuple.PlainBytes(key[parentLen:], num, kind); ok {
		el, n, f = tuple.Element{Field: num, Kind: kind, Bytes: b}, pn, c.f
	} else if el, n, err = tuple.DecodeElement(key[parentLen:]); err != nil {
		return false, false, nil // the assembler reports it
	} else if f = e.dir.node.Child(el.Field, el.Kind); f != nil && (f.Number() != ch.Field.Number() || f.Child == nil) {
		f = nil
	}
	if parentLen+n != len(key) || !validUTF8(el.Bytes) {
		return false, false, nil // the assembler reports or takes it
	}
	if f == nil {
		return false, false, nil
	}
	// On the entry's own key, seekGE would return at once after
	// comparing the two keys, and HasPrefix compare them again: two
	// compares of the whole key per entry of a page. Its sticky error
	// is what seekGE would have stopped on.
	if facts&unitOn != 0 {
		if e.err != nil {
			return false, true, e.err
		}
	} else if !w.seekGE(key) || !bytes.HasPrefix(w.key, key) {
		return false, true, e.err
	}
	plain := c.plain
	if len(w.key) == len(key) && plain && !noScalarEntries.Load() {
		// Filtered and decoded in one pass, when the field plan takes
		// the value; else as below.
		if slab, size, ok := e.dir.decodeEntry(mi, w.val, ch.Proj, f.Child); ok {
			e.noteFed(key)
			e.dir.addDecoded(mi, el.Bytes, slab)
			return true, true, e.countFedLen(key, size)
		}
	}
	var own []byte
	if len(w.key) == len(key) {
		// Filtered, then the kept fields checked against the entry's
		// layout, as object and the assembler do (the same error first).
		if own, err = e.filterChecked(w.key, w.val, nil, ch.Proj); err != nil {
			return true, true, err
		}
	}
	e.noteFed(key)
	if err := checkValue(key, own, f.Child); err != nil {
		return true, true, err
	}
	e.dir.add(mi, el.Bytes, own, plain)
	return true, true, e.countFed(key, own)
}

// wholeRow feeds the pairs of the row at key whole (object, for a
// projection of everything), as feeding each of them to the assembler
// does, but keeps aside each entry of a string-keyed message map of the
// row that holds no key below its own: its value goes straight to fill.
// Whether an entry holds keys below it shows only at the next key, so an
// entry is kept aside provisionally and fed to the assembler after all
// when that key lies below it; its value was checked when kept, as the
// assembler checks it. The kept entry's key is then the walker's gap:
// walker.next leaves the key it stepped from there, so it is not copied
// once more.
func (e *exec) wholeRow(w *walker, key []byte) error {
	d := &e.dir
	pending := false // the last entry kept aside may yet hold keys below it
	for ok := true; ok && bytes.HasPrefix(w.key, key); ok = w.next() {
		if pending {
			pending = false
			if prev := w.gap; len(w.key) > len(prev) && bytes.HasPrefix(w.key, prev) {
				if err := e.asm.add(prev, d.dropLast()); err != nil {
					return err
				}
			}
		}
		kept, err := e.keepWhole(key, w.key, w.val)
		if err != nil {
			return err
		}
		if kept {
			pending = true
			if err := e.countFed(w.key, w.val); err != nil {
				return err
			}
			continue
		}
		if err := e.feed(w.key, w.val); err != nil {
			return err
		}
	}
	return e.err
}

// keepWhole keeps the pair key, value of the row at row aside when it is
// a whole entry of a string-keyed message map of the row (see wholeRow);
// kept is false, and nothing done, when the assembler must take it.
func (e *exec) keepWhole(row, key, value []byte) (kept bool, err error) {
	if len(key) <= len(row) {
		return false, nil
	}
	// The entry's key element: most often a plain string with a one-byte
	// tag, which PlainBytes reads as DecodeElement would (the tag's own
	// field: PlainBytes takes only the tag field<<4 | KindString).
	b := key[len(row):]
	var el tuple.Element
	var n int
	if p, pn, ok := tuple.PlainBytes(b, uint32(b[0]>>4), tuple.KindString); ok {
		el, n = tuple.Element{Field: uint32(b[0] >> 4), Kind: tuple.KindString, Bytes: p}, pn
	} else if el, n, err = tuple.DecodeElement(b); err != nil {
		return false, nil // the assembler reports it
	}
	if len(row)+n != len(key) || el.Kind != tuple.KindString || !validUTF8(el.Bytes) {
		return false, nil // the assembler reports or takes it
	}
	d := &e.dir
	f := d.node.Child(el.Field, el.Kind)
	if f == nil || f.Storage != schema.Map || f.Child == nil || f.Apart {
		return false, nil
	}
	mi := d.plan.mapOf(f.Number())
	if mi < 0 {
		return false, nil
	}
	e.noteFed(key)
	if !noScalarEntries.Load() {
		// Checked and decoded in one pass by the field plan of the map's
		// value type, when it takes the value (it then passes checkValue
		// and decodes as proto.Unmarshal does); else as below, which
		// reports any corruption as before.
		if slab, _, ok := d.decodeEntry(mi, value, wholeEntry, f.Child); ok {
			d.addDecodedWhole(mi, el.Bytes, value, slab)
			return true, nil
		}
	}
	if err := checkValue(key, value, f.Child); err != nil {
		return true, err
	}
	d.add(mi, el.Bytes, value, !inlineMap(f.Child))
	return true, nil
}

// wholeEntry is the projection of an entry's value read whole: every
// field kept, so the field plan declines any field it does not decode
// (unknown fields, extensions, messages, maps, lists, oneofs, fields
// with presence), which proto.Unmarshal then decodes.
var wholeEntry = &query.Proj{All: true}

// add keeps aside the entry keyed key of plan.maps[mi] with value
// (plain: a value that holds no map of its own).
func (d *directEntries) add(mi int, key, value []byte, plain bool) {
	d.ents = append(d.ents, directEntry{plan: mi, keyLen: len(key), valLen: len(value), plain: plain})
	d.keys = append(d.keys, key...)
	d.vals = append(d.vals, value...)
}

// addDecodedWhole keeps aside the entry keyed key of plan.maps[mi] whose
// stored value, read whole, decodeEntry decoded last into
// d.decoded[slab]; value is kept too, for dropLast.
func (d *directEntries) addDecodedWhole(mi int, key, value []byte, slab int) {
	d.addDecoded(mi, key, slab)
	d.ents[len(d.ents)-1].valLen = len(value)
	d.vals = append(d.vals, value...)
}

// dropLast forgets the entry kept aside last (and its decoded value) and
// returns its stored value (valid until the next add).
func (d *directEntries) dropLast() []byte {
	last := d.ents[len(d.ents)-1]
	if last.dec > 0 {
		// The slab's last value: the entry was the last one added.
		ds := &d.decoded[last.slab]
		ds.n--
		ds.vals.Index(ds.n).SetZero()
	}
	v := d.vals[len(d.vals)-last.valLen:]
	d.ents = d.ents[:len(d.ents)-1]
	d.keys = d.keys[:len(d.keys)-last.keyLen]
	d.vals = d.vals[:len(d.vals)-last.valLen]
	return v
}

// fill sets the entries kept aside into m, the decoded row, and forgets
// them: the rows of joins decoded after it have none. x is m's Go message
// (m.Interface()) when the caller holds it, else nil.
func (d *directEntries) fill(dec *decoder, opts decodeOptions, m protoreflect.Message, x proto.Message) error {
	if len(d.ents) == 0 {
		return nil
	}
	defer func() { d.ents = d.ents[:0]; d.clearDecoded() }()
	// The decoded values become the maps' values where they lie: a slab
	// never grown (of the size slabSize gave it) at least three quarters
	// full (a page that filled the slab sized for it) is handed out
	// whole, and the next row's decodes allocate a new one. Any other
	// slab (less full, or grown past that size) has its values copied
	// into one of their size instead, and stays for the next row (zeroed
	// by clearDecoded): a result does not hold many unused values, and
	// the entries of maps read without a page fill a slab grown once,
	// not one per row.
	d.out = d.out[:0]
	for i := range d.decoded {
		ds := &d.decoded[i]
		out := decodedSlab{typ: ds.typ, size: ds.size}
		if ds.n > 0 {
			if 4*ds.n < 3*ds.len || ds.grown {
				vals := reflect.MakeSlice(ds.typ, ds.n, ds.n)
				reflect.Copy(vals, ds.vals)
				out.set(vals, ds.n)
			} else {
				out.set(ds.vals, ds.len)
				ds.take()
			}
		}
		d.out = append(d.out, out)
	}
	if d.allDecoded() {
		if x == nil {
			x = m.Interface()
		}
		d.fillDecoded(x)
		clear(d.out)
		return nil
	}
	d.wire = d.wire[:0]
	ko, vo := 0, 0
	for _, en := range d.ents {
		d.wire = append(d.wire, mapEntryWire{plan: en.plan, key: d.keys[ko : ko+en.keyLen], value: d.vals[vo : vo+en.valLen], plain: en.plain})
		if en.dec > 0 {
			d.wire[len(d.wire)-1].msg = d.out[en.slab].vals.Index(en.dec - 1)
		}
		ko += en.keyLen
		vo += en.valLen
	}
	err := dec.fillMaps(opts, m, d.plan, d.wire, string(d.keys), 0)
	// Nothing of the row stays in the execution once it is returned.
	clear(d.out)
	for i := range d.wire {
		d.wire[i].msg = reflect.Value{}
	}
	return err
}

// allDecoded reports whether every entry kept aside was decoded by its
// field plan (the usual case: a projected page, or a row read whole whose
// entries the plan takes), so that fill need not build the entries' wire
// form for fillMaps.
func (d *directEntries) allDecoded() bool {
	for _, en := range d.ents {
		if en.dec == 0 {
			return false
		}
	}
	return true
}

// fillDecoded is fill when every entry was decoded (allDecoded): it sets
// each decoded value, in its slab of d.out, into its map of x (the row's Go message) as fillMaps
// sets an entry already decoded (the map made with the size of its
// entries when the decode of the row made none, the keys substrings of
// one string), without the mapEntryWire pass and fillMaps' own walk over
// the entries per map. Each value's address is computed in its slab and
// stored into the *V cell that SetMapIndex is given (reflect's Index and
// Addr would look the pointer type up for each entry), its key into the
// string cell.
func (d *directEntries) fillDecoded(x proto.Message) {
	keys := string(d.keys)
	sv := reflect.ValueOf(x).Elem()
	if !d.key.IsValid() {
		d.key = reflect.New(stringType).Elem()
		d.keyAt = (*string)(unsafe.Pointer(d.key.UnsafeAddr()))
	}
	// One pass over the entries, the map looked up again only where the
	// entries of another map begin (most rows fill one map, whose entries
	// were kept in a row).
	cur, ko := -1, 0
	var fv reflect.Value
	for j, en := range d.ents {
		k := keys[ko : ko+en.keyLen]
		ko += en.keyLen
		if en.plan != cur {
			cur, fv = en.plan, d.mapField(sv, j)
		}
		*d.keyAt, *d.cellAt = k, d.out[en.slab].at(en.dec-1)
		fv.SetMapIndex(d.key, d.cell)
	}
	// Nothing of the row stays in the execution once it is returned.
	*d.keyAt, *d.cellAt = "", nil
}

// mapField returns the map field of the row sv that entry j sets, made
// with the size of its entries from j on when the decode of the row made
// none, and sets d.cell up for its values.
func (d *directEntries) mapField(sv reflect.Value, j int) reflect.Value {
	mi := d.ents[j].plan
	mp := &d.plan.maps[mi]
	fv := sv.Field(mp.field)
	if fv.IsNil() {
		count := 0
		for _, en := range d.ents[j:] {
			if en.plan == mi {
				count++
			}
		}
		fv.Set(reflect.MakeMapWithSize(mp.mapType, count))
	}
	if pt := mp.mapType.Elem(); d.cellType != pt {
		d.cell, d.cellType = reflect.New(pt).Elem(), pt
		d.cellAt = (*unsafe.Pointer)(unsafe.Pointer(d.cell.UnsafeAddr()))
	}
	return fv
}

// inlineMap reports whether n stores a map in its own value: the value
// of an entry with layout n holds no entry of a map otherwise (checkValue
// refuses fields stored under their own keys).
func inlineMap(n *schema.Node) bool {
	for _, f := range n.Inline {
		if f.Desc.IsMap() {
			return true
		}
	}
	return false
}

// keepsMap reports whether the inline fields p selects include a map.
func keepsMap(p *query.Proj) bool {
	for _, f := range p.Inline {
		if f.Desc.IsMap() {
			return true
		}
	}
	return false
}
