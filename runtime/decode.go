package runtime

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Decoding reassembled objects into generated Go messages.
//
// A reassembled object is one protobuf message, which proto.Unmarshal
// decodes exactly. Its message-valued maps, though, go through
// protobuf-go's reflective map decoding: per entry a reflective New of the
// value, the key converted to and from a protoreflect.Value, a map
// assignment that grows the map step by step — about five allocations per
// entry, most of a Get. For a generated Go type, unmarshal instead takes
// the entries of its string-keyed message maps out of the wire bytes,
// decodes everything else with one proto.Unmarshal, and then fills each
// such map itself: sized once, the entry values allocated together in one
// slice, every key a substring of one string, each value decoded by
// proto.Unmarshal (recursively by this same path) into its slot. The
// result is the message proto.Unmarshal builds from the same bytes:
// unknown fields, extensions, UTF-8 and required-field checks all go
// through protobuf-go, and any entry this path does not recognise as the
// plain key-then-value entry that the assembler writes sends the whole
// message through proto.Unmarshal instead.

// msgPlan is what the decode of a generated Go message type needs, built
// once per type: its string-keyed message maps and its Go string fields.
type msgPlan struct {
	maps []mapPlan
	// strs holds the Go string fields, for setting key columns without
	// protoreflect's boxing: a message has few, which a linear search
	// finds faster than a map lookup.
	strs []strField
	// typ is the Go type (a pointer to the struct) the plan was built
	// for: setString stores at an offset only into a message of it.
	typ reflect.Type
}

// strField is a singular Go string field of a generated struct: its
// field number and its offset in the struct.
type strField struct {
	num protoreflect.FieldNumber
	off uintptr
}

// strOffset returns the offset of the Go string field numbered num, or
// false when the plan has none.
func (p *msgPlan) strOffset(num protoreflect.FieldNumber) (uintptr, bool) {
	for _, f := range p.strs {
		if f.num == num {
			return f.off, true
		}
	}
	return 0, false
}

// mapPlan is one map[string]*V field of a generated struct.
type mapPlan struct {
	num     protowire.Number
	field   int          // index of the struct field
	mapType reflect.Type // map[string]*V
	slice   reflect.Type // []V: the values of one decode, allocated together
	// value caches the plan of *V (valuePlan), looked up on the first
	// decode rather than built with this plan: a message type may hold a
	// map of itself.
	value *atomic.Pointer[decodePlanBox]
	// entries caches the field plan of V (mapPlan.entryPlan), built on the
	// first decode of a projected entry.
	entries *atomic.Pointer[fieldPlanBox]
}

// decodePlanBox boxes a plan that may be nil, so that a cached "no plan" differs
// from "not looked up yet".
type decodePlanBox struct{ p *msgPlan }

// valuePlan returns the plan of the map's value type; slot is a value of
// it, looked up the first time.
func (mp *mapPlan) valuePlan(slot protoreflect.Message) *msgPlan {
	if v := mp.value.Load(); v != nil {
		return v.p
	}
	p := decodePlanOf(slot)
	mp.value.Store(&decodePlanBox{p})
	return p
}

func (p *msgPlan) mapOf(num protowire.Number) int {
	for i := range p.maps {
		if p.maps[i].num == num {
			return i
		}
	}
	return -1
}

// decodePlans caches msgPlans by Go type (a *T); a nil *msgPlan means the type
// gains nothing from this path.
var decodePlans sync.Map

var stringType = reflect.TypeFor[string]()

// decodePlanOf returns the plan of m's Go type, nil when m is not a generated
// message (dynamicpb, a legacy wrapper, a hand-built type) or has nothing to
// gain.
func decodePlanOf(m protoreflect.Message) *msgPlan {
	t := reflect.TypeOf(m.Interface())
	if p, ok := decodePlans.Load(t); ok {
		return p.(*msgPlan)
	}
	p := buildPlan(t, m.Type())
	decodePlans.Store(t, p)
	return p
}

// buildPlan returns the plan of Go type t, whose messages are of type mt.
// The plan sets maps and strings by struct field index, so it is built
// only when t is the struct that mt reads and writes (ownStruct): a
// hand-built type whose ProtoReflect hands out another message's
// reflection would have its look-alike fields set, which the message does
// not read.
func buildPlan(t reflect.Type, mt protoreflect.MessageType) *msgPlan {
	if !ownStruct(mt, t) {
		return nil
	}
	md := mt.Descriptor()
	p := &msgPlan{typ: t}
	st := t.Elem()
	for i := range st.NumField() {
		sf := st.Field(i)
		tag := sf.Tag.Get("protobuf")
		if tag == "" || !sf.IsExported() {
			continue
		}
		parts := strings.Split(tag, ",")
		if len(parts) < 2 {
			continue
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		fd := md.Fields().ByNumber(protoreflect.FieldNumber(n))
		if fd == nil {
			continue
		}
		switch {
		case fd.IsMap():
			if mp, ok := messageMap(i, sf, fd); ok {
				p.maps = append(p.maps, mp)
			}
		case fd.Kind() == protoreflect.StringKind && fd.Cardinality() != protoreflect.Repeated &&
			fd.ContainingOneof() == nil && sf.Type == stringType:
			p.strs = append(p.strs, strField{num: fd.Number(), off: sf.Offset})
		}
	}
	if len(p.maps) == 0 && len(p.strs) == 0 {
		return nil
	}
	return p
}

// messageMap checks that struct field sf (index i) is the Go map[string]*V
// of the string-keyed message map fd, V being fd's value type.
func messageMap(i int, sf reflect.StructField, fd protoreflect.FieldDescriptor) (mapPlan, bool) {
	mt := sf.Type
	if fd.MapKey().Kind() != protoreflect.StringKind || fd.MapValue().Kind() != protoreflect.MessageKind ||
		mt.Kind() != reflect.Map || mt.Key() != stringType ||
		mt.Elem().Kind() != reflect.Pointer || mt.Elem().Elem().Kind() != reflect.Struct {
		return mapPlan{}, false
	}
	v, ok := reflect.Zero(mt.Elem()).Interface().(proto.Message)
	if !ok || v.ProtoReflect().Descriptor() != fd.MapValue().Message() {
		return mapPlan{}, false
	}
	if reflect.TypeOf(v.ProtoReflect().Interface()) != mt.Elem() {
		return mapPlan{}, false // a wrapped (legacy) type: its slots are not messages
	}
	return mapPlan{num: fd.Number(), field: i, mapType: mt, slice: reflect.SliceOf(mt.Elem().Elem()), value: new(atomic.Pointer[decodePlanBox]), entries: new(atomic.Pointer[fieldPlanBox])}, true
}

// decoder holds the scratch of unmarshal, reused across calls; one per
// exec (not safe for concurrent use).
type decoder struct {
	levels []decodeLevel
	key    reflect.Value // an addressable string, the map key being set
}

type decodeLevel struct {
	rest []byte
	ents []mapEntryWire
	keys []byte
}

type mapEntryWire struct {
	plan       int
	key, value []byte
	// plain marks a value known to hold no entry of a map of its type's
	// plan, which proto.Unmarshal then decodes at once (direct.go).
	plain bool
	// msg, when valid, is the entry's value already decoded into a V
	// (the map's value type) by directEntry's entry plan (scalarplan.go);
	// fillMaps copies it into the entry's slot instead of decoding value.
	msg reflect.Value
}

// maxFastDepth bounds the nesting this path recurses into (maps of
// messages holding maps); deeper values go through proto.Unmarshal.
const maxFastDepth = 8

// unmarshal decodes wire into m, which must be empty (fresh or reset),
// as opts.Unmarshal(wire, m) does; see the top of this file.
func (d *decoder) unmarshal(opts decodeOptions, wire []byte, m protoreflect.Message, depth int) error {
	return d.unmarshalPlan(opts, wire, m, depth, decodePlanOf(m))
}

// unmarshalPlan is unmarshal with m's plan p (decodePlanOf(m)) already
// looked up: the per-row and per-entry decodes take it from the table or the
// map's plan instead of a lookup by Go type each time.
func (d *decoder) unmarshalPlan(opts decodeOptions, wire []byte, m protoreflect.Message, depth int, p *msgPlan) error {
	if len(wire) == 0 && opts.Merge && m.Descriptor().RequiredNumbers().Len() == 0 {
		// Nothing to merge into the empty m, and no required field for
		// proto.Unmarshal's check to find missing: a row read for its
		// children only (exec.childrenOnly) assembles nothing of its own.
		return nil
	}
	if p == nil || len(p.maps) == 0 || depth >= maxFastDepth {
		return opts.Unmarshal(wire, m.Interface())
	}
	if d.levels == nil {
		// Allocated whole once: a recursive call must not move the
		// level its caller is iterating over.
		d.levels = make([]decodeLevel, maxFastDepth)
	}
	lv := &d.levels[depth]
	lv.rest, lv.ents, lv.keys = lv.rest[:0], lv.ents[:0], lv.keys[:0]
	for b := wire; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return opts.Unmarshal(wire, m.Interface())
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[n:])
		if vn < 0 {
			return opts.Unmarshal(wire, m.Interface())
		}
		field := b[:n+vn]
		b = b[n+vn:]
		i := p.mapOf(num)
		if i < 0 || typ != protowire.BytesType {
			lv.rest = append(lv.rest, field...)
			continue
		}
		entry, _ := protowire.ConsumeBytes(field[n:])
		k, v, ok := splitEntry(entry)
		if !ok {
			return opts.Unmarshal(wire, m.Interface())
		}
		lv.ents = append(lv.ents, mapEntryWire{plan: i, key: k, value: v})
		lv.keys = append(lv.keys, k...)
	}
	if len(lv.ents) == 0 {
		return opts.Unmarshal(wire, m.Interface())
	}
	if err := opts.Unmarshal(lv.rest, m.Interface()); err != nil {
		return err
	}
	return d.fillMaps(opts, m, p, lv.ents, string(lv.keys), depth)
}

// fillMaps sets the entries ents, whose keys are consecutive substrings of
// keys, into m's string-keyed message maps (p is m's plan): each map sized
// once (or added to, when a decode already made it), its values allocated
// together in one slice and each decoded by unmarshalPlan into its slot;
// an entry already decoded (msg) is its own slot, which the map takes.
func (d *decoder) fillMaps(opts decodeOptions, m protoreflect.Message, p *msgPlan, ents []mapEntryWire, keys string, depth int) error {
	if !d.key.IsValid() {
		d.key = reflect.New(stringType).Elem()
	}
	sv := reflect.ValueOf(m.Interface()).Elem()
	for i := range p.maps {
		mp := &p.maps[i]
		count, fresh := 0, 0
		for _, e := range ents {
			if e.plan == i {
				count++
				if !e.msg.IsValid() {
					fresh++
				}
			}
		}
		if count == 0 {
			continue
		}
		fv := sv.Field(mp.field)
		if fv.IsNil() {
			fv.Set(reflect.MakeMapWithSize(mp.mapType, count))
		}
		var slab reflect.Value
		if fresh > 0 {
			slab = reflect.MakeSlice(mp.slice, fresh, fresh)
		}
		off, j := 0, 0
		for _, e := range ents {
			k := keys[off : off+len(e.key)]
			off += len(e.key)
			if e.plan != i {
				continue
			}
			if e.msg.IsValid() {
				d.key.SetString(k)
				fv.SetMapIndex(d.key, e.msg.Addr())
				continue
			}
			slot := slab.Index(j).Addr()
			j++
			var err error
			if sv := slot.Interface().(proto.Message); e.plain {
				err = opts.Unmarshal(e.value, sv)
			} else {
				sm := sv.ProtoReflect()
				err = d.unmarshalPlan(opts, e.value, sm, depth+1, mp.valuePlan(sm))
			}
			if err != nil {
				return err
			}
			d.key.SetString(k)
			fv.SetMapIndex(d.key, slot)
		}
	}
	return nil
}

// splitEntry splits a map entry that is exactly a valid UTF-8 string key
// (field 1) followed by a message value (field 2), as the assembler writes
// entries; ok is false for any other form, which proto.Unmarshal then
// decodes (or refuses) itself.
func splitEntry(b []byte) (key, value []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		return nil, nil, false
	}
	key, kn := protowire.ConsumeBytes(b[n:])
	if kn < 0 || !validUTF8(key) {
		return nil, nil, false
	}
	b = b[n+kn:]
	num, typ, n = protowire.ConsumeTag(b)
	if n < 0 || num != 2 || typ != protowire.BytesType {
		return nil, nil, false
	}
	value, vn := protowire.ConsumeBytes(b[n:])
	if vn < 0 || n+vn != len(b) {
		return nil, nil, false
	}
	return key, value, true
}

// setString sets m's string field fd to s, directly in a generated
// struct when the plan has its Go field, else through protoreflect.
// p is decodePlanOf(m), and x m's Go message when the caller holds it
// (nil: m.Interface(), which builds it through reflect.NewAt, is asked).
// The string is stored at the field's offset (the plan is built only for
// the struct the message's reflection reads, buildPlan's ownStruct, and
// the field checked to be a Go string), and only into a message of the
// plan's own Go type, without reflect's Field and SetString.
func setString(m protoreflect.Message, x proto.Message, p *msgPlan, fd protoreflect.FieldDescriptor, s string) {
	if p != nil {
		if off, ok := p.strOffset(fd.Number()); ok {
			if x == nil {
				x = m.Interface()
			}
			if reflect.TypeOf(x) == p.typ {
				*(*string)(unsafe.Add(reflect.ValueOf(x).UnsafePointer(), off)) = s
				return
			}
		}
	}
	m.Set(fd, protoreflect.ValueOfString(s))
}

// trim drops scratch buffers grown past max, so that one huge object does
// not pin its memory in a pooled execution.
func (d *decoder) trim(max int) {
	for i := range d.levels {
		lv := &d.levels[i]
		if cap(lv.rest) > max || cap(lv.keys) > max || cap(lv.ents) > max/32 {
			*lv = decodeLevel{}
		}
	}
}
