package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// Index states and index evolution.
//
// Each index has a state in the metadata, under 0x00 "index/" followed by
// its IndexID (the scope's and the id's unit elements): 'r' readable, or
// 'w' write-only followed by the key the build resumes after. Every write
// maintains every index of the schema whatever its state; only readable
// indexes may be read.
//
//   - Open of a new DB marks every index readable (there is nothing to
//     index).
//   - Open with a schema that adds an index to a DB holding data marks it
//     write-only; DB.BuildIndexes fills it in bounded batches, each one
//     transaction that also records how far it got, so a build resumes
//     after a crash, and then marks it readable. Open itself never scans.
//   - Open with a schema that drops a table index deletes its entries (one
//     range delete, before the new schema is stored); a dropped map-scoped
//     index is recorded under 0x00 "index-drop/" + IndexID, and
//     BuildIndexes deletes its entries under every owner.

// ErrIndexNotReadable is wrapped by the error of a read through an index
// that is not built yet (see DB.BuildIndexes).
var ErrIndexNotReadable = errors.New("runtime: index not readable")

const (
	stateReadable  = 'r'
	stateWriteOnly = 'w'
	// buildBatch is the number of keys one build transaction visits.
	buildBatch = 256
)

// indexStates is the DB's view of its indexes' states.
type indexStates struct {
	mu    sync.Mutex
	state map[string]byte // IndexID → state
	drops []string        // IndexIDs of dropped map-scoped indexes to clean
}

func (db *DB) indexStateKey(id string) []byte { return db.metaKey("index/" + id) }
func (db *DB) indexDropKey(id string) []byte  { return db.metaKey("index-drop/" + id) }

// IndexReadable returns nil when the index x can be read, or an error
// wrapping ErrIndexNotReadable naming it. Query planning and typed index
// reads call it before reading x.
func (db *DB) IndexReadable(x *schema.Index) error {
	// The id built in a stack buffer: every index read asks, and
	// IndexID's string would allocate each time.
	var buf [32]byte
	id := x.AppendIndexID(buf[:0])
	db.ix.mu.Lock()
	st := db.ix.state[string(id)]
	db.ix.mu.Unlock()
	if st == stateReadable {
		return nil
	}
	return fmt.Errorf("%w: index %s is not built yet (it was added to a DB holding data); run DB.BuildIndexes (protoql build-indexes) first", ErrIndexNotReadable, x.Path())
}

// evolveIndexes records, before a new schema cat is stored over stored
// (nil for a new DB), the states of added indexes and deletes or schedules
// the deletion of dropped ones.
func (db *DB) evolveIndexes(ctx context.Context, stored, cat *schema.Catalog) error {
	b := kv.NewBatch()
	now := cat.IndexesByID()
	if stored == nil {
		for id := range now {
			if err := b.Set(db.indexStateKey(id), []byte{stateReadable}); err != nil {
				return err
			}
		}
		return db.store.Apply(ctx, b)
	}
	before := stored.IndexesByID()
	for id, x := range before {
		if now[id] != nil {
			continue
		}
		if err := b.Delete(db.indexStateKey(id)); err != nil {
			return err
		}
		if x.Map == nil {
			p := x.AppendPrefix(bytes.Clone(db.ns), nil)
			if err := b.DeleteRange(p, tuple.PrefixEnd(p)); err != nil {
				return err
			}
			continue
		}
		if err := b.Set(db.indexDropKey(id), nil); err != nil {
			return err
		}
	}
	for id := range now {
		if before[id] == nil {
			if err := b.Set(db.indexStateKey(id), []byte{stateWriteOnly}); err != nil {
				return err
			}
		}
	}
	if b.Len() == 0 {
		return nil
	}
	return db.store.Apply(ctx, b)
}

// loadIndexStates reads the states at Open. An index with no state (a
// schema stored by a runtime that did not maintain it) is write-only, and
// so is one whose IndexID has a drop pending (its old entries go first).
func (db *DB) loadIndexStates(ctx context.Context) error {
	db.ix.state = map[string]byte{}
	drops := map[string]bool{}
	for _, p := range []string{"index/", "index-drop/"} {
		lo := db.metaKey(p)
		it, err := db.store.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: tuple.PrefixEnd(lo)})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			id := string(it.Key()[len(lo):])
			if p == "index-drop/" {
				drops[id] = true
				db.ix.drops = append(db.ix.drops, id)
			} else if v := it.Value(); len(v) > 0 {
				db.ix.state[id] = v[0]
			}
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return err
		}
	}
	for id := range drops {
		if db.ix.state[id] == stateReadable {
			db.ix.state[id] = stateWriteOnly
		}
	}
	return nil
}

// BuildIndexes brings every index to readable: it first deletes the
// entries of dropped map-scoped indexes, then fills every write-only index
// from the stored rows, in transactions of at most a few hundred keys that
// each record their progress, so it can be stopped (or crash) and resume.
// Writes may run meanwhile: they maintain write-only indexes too. A unique
// index whose stored rows already collide fails the build with an error
// wrapping ErrUniqueViolation; the index stays write-only. Cancelling ctx
// stops it between batches (with ctx's error); what is committed stays.
//
// Open never builds: the program that opens the DB with a schema that
// may have gained indexes calls BuildIndexes after Open (in the
// background if it likes; it returns at once when there is nothing to
// do). server.Server.Serve (protoql serve) does so in the background, and
// `protoql build-indexes --db DIR` runs it from the command line. An index
// this DB builds is readable through this DB as soon as it is done. The
// states are loaded at Open: another DB value on the same store (another
// process, say) does not see the index readable until it is opened again.
func (db *DB) BuildIndexes(ctx context.Context) error {
	return db.BuildIndexesFunc(ctx, nil)
}

// IndexBuildProgress is what BuildIndexesFunc reports after each batch it
// commits.
type IndexBuildProgress struct {
	// Index is the index's path (Table.index, or Table.field.index for a
	// map-scoped one); for a dropped map-scoped index, its IndexID in hex.
	Index string
	// Dropped says the batches delete a dropped index's entries.
	Dropped bool
	// Batches counts the batches committed for Index by this call.
	Batches int
	// Done says Index is now readable (or its entries deleted).
	Done bool
}

// BuildIndexesFunc is BuildIndexes calling progress, when not nil, after
// every batch it commits, from the calling goroutine.
func (db *DB) BuildIndexesFunc(ctx context.Context, progress func(IndexBuildProgress)) error {
	report := func(p IndexBuildProgress) func(bool) {
		return func(done bool) {
			p.Batches++
			p.Done = done
			if progress != nil {
				progress(p)
			}
		}
	}
	db.ix.mu.Lock()
	drops := append([]string(nil), db.ix.drops...)
	db.ix.mu.Unlock()
	for _, id := range drops {
		if err := db.dropMapIndex(ctx, id, report(IndexBuildProgress{Index: fmt.Sprintf("%x", id), Dropped: true})); err != nil {
			return err
		}
	}
	for _, t := range db.cat.Tables {
		for _, x := range t.AllIndexes {
			if db.IndexReadable(x) == nil {
				continue
			}
			if err := db.buildIndex(ctx, db.tables[t.ID], x, report(IndexBuildProgress{Index: x.Path()})); err != nil {
				return fmt.Errorf("runtime: building index %s: %w", x.Path(), err)
			}
		}
	}
	return nil
}

// buildIndex fills x batch by batch, then marks it readable.
func (db *DB) buildIndex(ctx context.Context, t *Table, x *schema.Index, after func(done bool)) error {
	id := x.IndexID()
	// The index is readable through db as soon as the batch that marks
	// it so commits, before anyone hears that it is done.
	return db.inBatches(ctx, func(txn kv.Txn) (bool, error) { return db.buildBatch(ctx, txn, t, x, id) }, func(done bool) {
		if done {
			db.ix.mu.Lock()
			db.ix.state[id] = stateReadable
			db.ix.mu.Unlock()
		}
		after(done)
	})
}

// buildBatch adds the entries of up to buildBatch keys of t from the
// recorded position and records the new position, or marks x readable
// when the table is done.
func (db *DB) buildBatch(ctx context.Context, txn kv.Txn, t *Table, x *schema.Index, id string) (bool, error) {
	st, err := txn.Get(ctx, db.indexStateKey(id))
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return false, err
	}
	if len(st) > 0 && st[0] == stateReadable {
		return true, nil
	}
	lo := t.prefix
	if len(st) > 1 {
		lo = st[1:]
	}
	it, err := txn.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: tuple.PrefixEnd(t.prefix)})
	if err != nil {
		return false, err
	}
	d := newDelta(t)
	var resume []byte
	n := 0
	ok := it.First()
	for ; ok && n < buildBatch; n++ {
		key := bytes.Clone(it.Key())
		o, isObj, err := indexedObjAt(t, x, key)
		if err != nil {
			return false, errors.Join(err, it.Close())
		}
		if isObj {
			m, exists, err := o.load(ctx, txn)
			if err != nil {
				return false, errors.Join(err, it.Close())
			}
			if exists {
				d.entries(o, m, d.new)
			}
		}
		if isObj && x.Map == nil {
			resume = tuple.PrefixEnd(key) // a row's own key: skip its subtree
			ok = it.SeekGE(resume)
		} else {
			resume = append(key, 0) // the smallest key after key
			ok = it.Next()
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return false, err
	}
	if err := d.check(ctx, txn); err != nil {
		return false, err
	}
	if err := d.write(txn); err != nil {
		return false, err
	}
	if !ok {
		return true, txn.Set(db.indexStateKey(id), []byte{stateReadable})
	}
	return false, txn.Set(db.indexStateKey(id), append([]byte{stateWriteOnly}, resume...))
}

// indexedObjAt reports whether key is the own key of an object that x
// indexes: a row for a table index, an entry of x's map for a map-scoped
// one.
func indexedObjAt(t *Table, x *schema.Index, key []byte) (idxObj, bool, error) {
	if x.Map == nil {
		n, err := t.rowKeyLen(key)
		if err != nil || n != len(key) {
			return idxObj{}, false, err
		}
		return idxObj{t: t, indexes: []*schema.Index{x}, node: x.Node, key: key}, true, nil
	}
	ns := len(t.db.ns)
	loc, err := t.db.cat.Resolve(key[ns:])
	if err != nil {
		return idxObj{}, false, corrupt(key, "%v", err)
	}
	if loc.Index != nil || len(loc.Fields) == 0 || loc.Fields[len(loc.Fields)-1] != x.Map || loc.Leaf != nil {
		return idxObj{}, false, nil
	}
	owner, err := lastElemStart(key, len(t.prefix))
	if err != nil {
		return idxObj{}, false, corrupt(key, "%v", err)
	}
	return idxObj{t: t, indexes: []*schema.Index{x}, node: x.Node, key: key, owner: owner}, true, nil
}

// dropMapIndex deletes the entries of a dropped map-scoped index, whose
// IndexID is id, under every owner, batch by batch, then its drop record.
func (db *DB) dropMapIndex(ctx context.Context, id string, after func(done bool)) error {
	elems, err := tuple.Decode([]byte(id))
	if err != nil || len(elems) < 3 {
		return fmt.Errorf("%w: index drop record %x does not decode", ErrCorrupt, id)
	}
	t := db.tables[elems[0].Field]
	var scope []uint32
	for _, e := range elems[1:] {
		scope = append(scope, e.Field)
	}
	if err := db.inBatches(ctx, func(txn kv.Txn) (bool, error) { return db.dropBatch(ctx, txn, t, id, scope) }, after); err != nil {
		return err
	}
	db.ix.mu.Lock()
	defer db.ix.mu.Unlock()
	for i, d := range db.ix.drops {
		if d == id {
			db.ix.drops = append(db.ix.drops[:i], db.ix.drops[i+1:]...)
			break
		}
	}
	return nil
}

// dropBatch deletes the dropped index's entries under up to buildBatch keys
// of t; scope holds the field numbers from the row to the map, then the
// index id. The drop record holds the position to resume after.
func (db *DB) dropBatch(ctx context.Context, txn kv.Txn, t *Table, id string, scope []uint32) (bool, error) {
	if t == nil {
		return true, txn.Delete(db.indexDropKey(id))
	}
	pos, err := txn.Get(ctx, db.indexDropKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	lo := t.prefix
	if len(pos) > 0 {
		lo = pos
	}
	it, err := txn.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: tuple.PrefixEnd(t.prefix)})
	if err != nil {
		return false, err
	}
	var resume []byte
	ok := it.First()
	for n := 0; ok && n < buildBatch; n++ {
		key := bytes.Clone(it.Key())
		if p := droppedPrefix(t, key, scope); p != nil {
			if err := txn.DeleteRange(p, tuple.PrefixEnd(p)); err != nil {
				return false, errors.Join(err, it.Close())
			}
			resume = tuple.PrefixEnd(p)
			ok = it.SeekGE(resume)
			continue
		}
		resume = append(key, 0)
		ok = it.Next()
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return false, err
	}
	if !ok {
		return true, txn.Delete(db.indexDropKey(id))
	}
	return false, txn.Set(db.indexDropKey(id), resume)
}

// droppedPrefix returns the prefix owner ⟨19000⟩ ⟨f⟩ ⟨id⟩ when key lies in
// it: after the row key, one element per intermediate scope field, then the
// index element, the map's field and the id (scope = intermediate fields…,
// map field, id).
func droppedPrefix(t *Table, key []byte, scope []uint32) []byte {
	off, err := t.rowKeyLen(key)
	if err != nil {
		return nil
	}
	mid := scope[:len(scope)-2]
	for _, num := range mid {
		e, n, err := tuple.DecodeElement(key[off:])
		if err != nil || e.Field != num {
			return nil
		}
		off += n
	}
	p := tuple.AppendUnit(nil, schema.IndexElem)
	p = tuple.AppendUnit(p, scope[len(scope)-2])
	p = tuple.AppendUnit(p, scope[len(scope)-1])
	if !bytes.HasPrefix(key[off:], p) {
		return nil
	}
	return append(bytes.Clone(key[:off]), p...)
}

// inBatches runs batch in one transaction after another until it reports
// that it is done, calling after (when not nil) once each commits. It
// stops between batches when ctx is done.
func (db *DB) inBatches(ctx context.Context, batch func(kv.Txn) (bool, error), after func(done bool)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done := false
		err := db.store.Update(ctx, func(txn kv.Txn) error {
			var err error
			done, err = batch(txn)
			return err
		})
		if err != nil {
			return err
		}
		if after != nil {
			after(done)
		}
		if done {
			return nil
		}
	}
}
