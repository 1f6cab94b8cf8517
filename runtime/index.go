package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Secondary-index maintenance (docs/key-layout.md, "Secondary indexes").
//
// The entries of an index depend on the state of one indexed object: a row
// for a table index, a map entry for a map-scoped one. That state is the
// object's own value (its inline fields; for a row also its key columns)
// and its indexed breakout fields. An object whose own key is absent — one
// that exists only through blind writes below it — has no entries: rows and
// entries enter their indexes when they are Put or have an inline field
// set. So blind writes to fields no index names stay blind.
//
// A write that can change entries runs as: read the old state of every
// indexed object it touches (an idxDelta), check unique indexes, write the
// data, then delete the old entries and set the new ones — in the same
// batch or transaction. At the DB level such a write runs as an optimistic
// transaction (kv.Store.Update), so the reads are validated at commit.

// ErrUniqueViolation is wrapped by the error of a write that would give a
// unique index a second row or entry with the same values. Such a write
// writes nothing.
var ErrUniqueViolation = errors.New("runtime: unique index violation")

// idxObj is an indexed object: a row of a table with indexes, or an entry of
// a map with map-scoped indexes.
type idxObj struct {
	t       *Table
	indexes []*schema.Index
	node    *schema.Node
	key     []byte // the object's store key
	owner   int    // a map entry's owner key length (0 for a row)
}

// idxEntry is one index entry.
type idxEntry struct {
	x          *schema.Index
	key, value []byte
	rest       int // offset of the values in key
}

// idxDelta collects the index changes of one write.
type idxDelta struct {
	t     *Table
	old   *idxSet     // entries that exist before the write
	new   *idxSet     // entries that exist after it
	spans [][2][]byte // ranges the write deletes: entries there vanish with the data
	// dup is set when two new entries of a unique index collide.
	dup error
	// sets backs old and new, and inline their first entries: a write of
	// one object has a few, which then cost no allocation of their own.
	sets   [2]idxSet
	inline [2][4]idxEntry
	// kb and vb are the data's key and value buffers (putIn), kept by a
	// pooled delta (putCall's) from write to write, empty and nil in a
	// new one.
	kb, vb []byte
}

func newDelta(t *Table) *idxDelta {
	d := new(idxDelta)
	d.reset(t)
	return d
}

// reset empties d, dropping what it refers to but its buffers, for a
// write to t.
func (d *idxDelta) reset(t *Table) {
	*d = idxDelta{t: t, kb: d.kb[:0], vb: d.vb[:0]}
	d.old, d.new = &d.sets[0], &d.sets[1]
	d.old.list, d.new.list = d.inline[0][:0], d.inline[1][:0]
}

// idxSet is a set of index entries by key. A write of one object has a
// few, searched in order; a write of many (DeleteRows, a batch of an index
// build) indexes them by a map once they are more than idxSetScan.
type idxSet struct {
	list  []idxEntry
	byKey map[string]int // the position in list of each key, once built
}

// idxSetScan is the most entries an idxSet searches in order.
const idxSetScan = 8

// get returns the entry of key.
func (s *idxSet) get(key []byte) (idxEntry, bool) {
	if i, ok := s.find(key); ok {
		return s.list[i], true
	}
	return idxEntry{}, false
}

func (s *idxSet) find(key []byte) (int, bool) {
	if s.byKey != nil {
		i, ok := s.byKey[string(key)]
		return i, ok
	}
	for i := range s.list {
		if bytes.Equal(s.list[i].key, key) {
			return i, true
		}
	}
	return 0, false
}

// put adds e, replacing the entry of the same key.
func (s *idxSet) put(e idxEntry) {
	if i, ok := s.find(e.key); ok {
		s.list[i] = e
		return
	}
	s.list = append(s.list, e)
	switch {
	case s.byKey != nil:
		s.byKey[string(e.key)] = len(s.list) - 1
	case len(s.list) > idxSetScan:
		s.byKey = make(map[string]int, 2*len(s.list))
		for i, e := range s.list {
			s.byKey[string(e.key)] = i
		}
	}
}

// rowObj returns the indexed object of the row at key, if t has indexes.
func rowObj(t *Table, key []byte) (idxObj, bool) {
	return idxObj{t: t, indexes: t.s.Indexes, node: t.s.Root, key: key}, len(t.s.Indexes) > 0
}

// entryObj returns the indexed object of the entry at key of map f, whose
// owner's key is key[:owner], if f has indexes.
func entryObj(t *Table, f *schema.Field, key []byte, owner int) (idxObj, bool) {
	return idxObj{t: t, indexes: f.Indexes, node: f.Child, key: key, owner: owner}, len(f.Indexes) > 0
}

// load reads the object's indexed state: the own value's fields, a row's
// key columns and the indexed breakout fields, and whether the own key
// exists (the object has entries only then).
func (o idxObj) load(ctx context.Context, r kv.Reader) (protoreflect.Message, bool, error) {
	db := o.t.db
	m := db.NewMessage(o.node.Desc)
	val, err := r.Get(ctx, o.key)
	exists := err == nil
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, false, err
	}
	if err := db.unmarshalOptions().Unmarshal(val, m.Interface()); err != nil {
		return nil, false, corrupt(o.key, "value does not parse: %v", err)
	}
	if o.owner == 0 {
		if err := o.t.setKeyFields(o.key, m); err != nil {
			return nil, false, err
		}
	}
	for _, f := range indexedBreakouts(o.indexes) {
		bv, err := r.Get(ctx, f.AppendElem(bytes.Clone(o.key)))
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if err := db.unmarshalOptions().Unmarshal(bv, m.Interface()); err != nil {
			return nil, false, corrupt(o.key, "breakout %s does not parse: %v", f.Name(), err)
		}
	}
	return m, exists, nil
}

// indexedBreakouts lists the breakout fields the indexes name, each once.
func indexedBreakouts(xs []*schema.Index) []*schema.Field {
	var out []*schema.Field
	for _, x := range xs {
		for _, c := range x.Columns {
			if c.Field.Storage == schema.Breakout && !containsField(out, c.Field) {
				out = append(out, c.Field)
			}
		}
	}
	return out
}

func containsField(fs []*schema.Field, f *schema.Field) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// entries adds the entries of o in state m (nil: none) to into (d.old or
// d.new).
func (d *idxDelta) entries(o idxObj, m protoreflect.Message, into *idxSet) {
	if m == nil {
		return
	}
	isNew := into == d.new
	for _, x := range o.indexes {
		var pb [32]byte // an index prefix (at most 28 bytes), on the stack
		rest := len(x.AppendPrefix(pb[:0], nil))
		if x.Map == nil {
			rest += len(o.t.db.ns)
		} else {
			rest += o.owner
		}
		for _, e := range x.Keys(o.t.db.ns, o.key, o.owner, m) {
			// Two new entries of one unique index under one key: the write
			// itself gives two objects the same values.
			if prev, ok := into.get(e[0]); ok && !bytes.Equal(prev.value, e[1]) && d.dup == nil && isNew {
				d.dup = uniqueError(o.t, x, e[0], rest, prev.value)
			}
			into.put(idxEntry{x: x, key: e[0], value: e[1], rest: rest})
		}
	}
}

// loadOld reads o's state and records its entries as the old ones.
func (d *idxDelta) loadOld(ctx context.Context, r kv.Reader, o idxObj) (protoreflect.Message, bool, error) {
	m, exists, err := o.load(ctx, r)
	if err == nil && exists {
		d.entries(o, m, d.old)
	}
	return m, exists, err
}

// inSpan reports whether key lies in a range the write deletes.
func (d *idxDelta) inSpan(key []byte) bool {
	for _, s := range d.spans {
		if bytes.Compare(key, s[0]) >= 0 && bytes.Compare(key, s[1]) < 0 {
			return true
		}
	}
	return false
}

// check refuses the write when a new entry of a unique index would take
// values another row or entry holds. It reads r, the state before the
// write, and must run before anything is written.
func (d *idxDelta) check(ctx context.Context, r kv.Reader) error {
	if d.dup != nil {
		return d.dup
	}
	for _, e := range d.new.list {
		if !e.x.Unique {
			continue
		}
		old, inOld := d.old.get(e.key)
		if inOld && bytes.Equal(old.value, e.value) {
			continue
		}
		held, err := r.Get(ctx, e.key)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			continue
		case err != nil:
			return err
		}
		if bytes.Equal(held, e.value) || d.inSpan(e.key) {
			continue
		}
		if inOld && bytes.Equal(old.value, held) {
			continue // held by an object this write changes
		}
		return uniqueError(d.t, e.x, e.key, e.rest, held)
	}
	return nil
}

// write deletes the old entries that are not new and sets the new ones
// that are not old. It runs after the data's writes, so that a range
// delete of the data does not remove entries set here.
func (d *idxDelta) write(w kv.Writer) error {
	for _, e := range d.old.list {
		if n, ok := d.new.get(e.key); ok && bytes.Equal(n.value, e.value) {
			continue
		}
		if d.inSpan(e.key) {
			continue
		}
		if err := w.Delete(e.key); err != nil {
			return err
		}
	}
	for _, e := range d.new.list {
		if o, ok := d.old.get(e.key); ok && bytes.Equal(o.value, e.value) && !d.inSpan(e.key) {
			continue
		}
		if err := set(w, d.t, e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// uniqueError names the index, the values and the key holding them: key
// is the entry's key, whose values start at rest, held the stored value
// (the target of the row or entry holding the values).
func uniqueError(t *Table, x *schema.Index, key []byte, rest int, held []byte) error {
	vals, _, err := x.DecodeEntry(key[rest:], held)
	var sb strings.Builder
	if err == nil {
		for i, v := range vals {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "%s=%s", x.Columns[i].Column.Name(), clip(fmt.Sprintf("%q", fmt.Sprint(v.Interface()))))
		}
	}
	target := t.prefix
	if x.Map != nil {
		target = key[:rest-len(x.AppendPrefix(nil, nil))]
	}
	return fmt.Errorf("%w: index %s: (%s) is already held by %s", ErrUniqueViolation, x.Path(), sb.String(), clip(t.render(append(bytes.Clone(target), held...))))
}

// apply runs d: checks, then data, then index writes.
func (d *idxDelta) apply(ctx context.Context, r kv.Reader, w kv.Writer, data func() error) error {
	if err := d.check(ctx, r); err != nil {
		return err
	}
	if err := data(); err != nil {
		return err
	}
	return d.write(w)
}

// checkIndexKey verifies a table index entry (key relative to the
// keyspace): it must belong to an index of the schema and decode.
func checkIndexKey(cat *schema.Catalog, key, value []byte) *Problem {
	x, rest, err := cat.ResolveIndex(key)
	if err != nil {
		return &Problem{Key: key, Msg: err.Error()}
	}
	if _, _, err := x.DecodeEntry(key[rest:], value); err != nil {
		return &Problem{Key: key, Path: x.Path(), Msg: err.Error()}
	}
	return nil
}
