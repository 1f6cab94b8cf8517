package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
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
	old   map[string]idxEntry // entries that exist before the write
	new   map[string]idxEntry // entries that exist after it
	spans [][2][]byte         // ranges the write deletes: entries there vanish with the data
	// dup is set when two new entries of a unique index collide.
	dup error
}

func newDelta(t *Table) *idxDelta {
	return &idxDelta{t: t, old: map[string]idxEntry{}, new: map[string]idxEntry{}}
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
func (d *idxDelta) entries(o idxObj, m protoreflect.Message, into map[string]idxEntry) {
	if m == nil {
		return
	}
	isNew := sameMap(into, d.new)
	for _, x := range o.indexes {
		var pb [32]byte // an index prefix (at most 28 bytes), on the stack
		rest := len(x.AppendPrefix(pb[:0], nil))
		if x.Map == nil {
			rest += len(o.t.db.ns)
		} else {
			rest += o.owner
		}
		for _, e := range x.Keys(o.t.db.ns, o.key, o.owner, m) {
			k := string(e[0])
			// Two new entries of one unique index under one key: the write
			// itself gives two objects the same values.
			if prev, ok := into[k]; ok && !bytes.Equal(prev.value, e[1]) && d.dup == nil && isNew {
				d.dup = uniqueError(o.t, x, e[0], rest, prev.value)
			}
			into[k] = idxEntry{x: x, key: e[0], value: e[1], rest: rest}
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
	for k, e := range d.new {
		if !e.x.Unique {
			continue
		}
		if old, ok := d.old[k]; ok && bytes.Equal(old.value, e.value) {
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
		if old, ok := d.old[k]; ok && bytes.Equal(old.value, held) {
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
	for k, e := range d.old {
		if n, ok := d.new[k]; ok && bytes.Equal(n.value, e.value) {
			continue
		}
		if d.inSpan(e.key) {
			continue
		}
		if err := w.Delete(e.key); err != nil {
			return err
		}
	}
	for k, e := range d.new {
		if o, ok := d.old[k]; ok && bytes.Equal(o.value, e.value) && !d.inSpan(e.key) {
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

// sameMap reports whether a and b are the same map (not equal contents).
func sameMap(a, b map[string]idxEntry) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
