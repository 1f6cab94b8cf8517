package runtime

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The row scan's per-row work, kept small: a projection that selects only
// inline fields reads each row's own value and nothing else (readOwn), so
// the row's bytes are that value filtered, without the assembler; and the
// key columns are appended to the row's bytes as fields (appendKeyFields),
// so that the one proto.Unmarshal of the row sets them too, instead of a
// protoreflect Set per column per row.

// genericRowScan, set by tests only, makes row scans take the generic
// path (the assembler, setKeys) that the fast paths replace, to compare
// the two.
var genericRowScan atomic.Bool

// unplannedRowScan, set by tests and benchmarks only, makes row scans
// decode without their row plan (rowplan.go), to compare the two.
var unplannedRowScan atomic.Bool

// inlineOnly reports whether p selects inline fields only: the object's
// reassembled bytes are then its own value, filtered by p.
func inlineOnly(p *query.Proj) bool {
	return !p.All && len(p.Children) == 0 && len(p.Joins) == 0
}

// readOwn is readWhole for a projection p that selects inline fields only
// (inlineOnly): it lands on the object at key with w and returns the
// fields of its own value that p keeps (valid until the next read), the
// bytes the assembler would build from them, and whether the object
// exists (a key under it exists). With unfiltered set it returns the own
// value as stored, which the caller must filter (scanWhole).
func (e *exec) readOwn(w *walker, key []byte, n *schema.Node, p *query.Proj, unfiltered bool) ([]byte, bool, error) {
	if !w.seekGE(key) || !bytes.HasPrefix(w.key, key) {
		return nil, false, e.err
	}
	if len(w.key) != len(key) {
		return nil, true, nil // no own value: only keys below it
	}
	if unfiltered {
		return w.val, true, nil
	}
	own, err := e.filterChecked(w.key, w.val, n, p)
	return own, true, err
}

// filterChecked is filter followed, when n is not nil, by the assembler's
// checkValue of n on what it kept, in one pass over the value.
func (e *exec) filterChecked(key, value []byte, n *schema.Node, p *query.Proj) ([]byte, error) {
	e.scratch = e.scratch[:0]
	for b := value; len(b) > 0; {
		num, typ, tn := protowire.ConsumeTag(b)
		if tn < 0 {
			return nil, corrupt(key, "malformed value: %v", protowire.ParseError(tn))
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[tn:])
		if vn < 0 {
			return nil, corrupt(key, "malformed value: %v", protowire.ParseError(vn))
		}
		if p.Keeps(num) {
			if n != nil {
				if f := n.Field(num); f != nil {
					if f.Storage != schema.Inline {
						return nil, corrupt(key, "value holds field %d (%s), which is stored as %s", num, f.Name(), f.Storage)
					}
					if !wireTypeOK(f.Desc, typ) {
						return nil, corrupt(key, "value holds field %d (%s) with wire type %d", num, f.Name(), typ)
					}
				}
			}
			e.scratch = append(e.scratch, b[:tn+vn]...)
		}
		b = b[tn+vn:]
	}
	return e.scratch, nil
}

// ownPlan returns the decode plan of a row scan whose projection p
// selects inline fields only (inlineOnly), given the row type's plan:
// nil, so that the row's bytes go to proto.Unmarshal at once, unless p
// keeps one of the plan's maps (an inline map of messages). The bytes of
// such a scan are the row's own value filtered by p and its key columns,
// so the plan's search of them for map entries would find none, and
// costs a pass over the row with a copy of it.
func ownPlan(plan *msgPlan, p *query.Proj) *msgPlan {
	if plan == nil {
		return nil
	}
	for _, mp := range plan.maps {
		if p.Keeps(mp.num) {
			return plan
		}
	}
	return nil
}

// keysAsFields reports whether t's key columns can be set by decoding them
// as fields of the row's wire bytes, with the same result as setting them
// with protoreflect: every kind but enums, whose unknown values a closed
// enum would send to the unknown fields instead.
func (t *Table) keysAsFields() bool {
	for _, col := range t.s.Key {
		if col.Field.Kind() == protoreflect.EnumKind || col.Field.IsList() || col.Field.IsMap() {
			return false
		}
	}
	return true
}

// appendKeyFields appends to b the key columns of the row key as protobuf
// fields (for keysAsFields tables): unmarshalled after the row's value,
// they set the key fields, the last occurrence of a field winning as it
// does for setKeys.
func (t *Table) appendKeyFields(b, key []byte) ([]byte, error) {
	off := len(t.prefix)
	for _, col := range t.s.Key {
		el, n, err := tuple.DecodeElement(key[off:])
		if err != nil {
			return nil, corrupt(key, "key column %s: %v", col.Field.Name(), fmt.Errorf("%w: %w", schema.ErrKeyValue, err))
		}
		num := col.Field.Number()
		switch k := col.Field.Kind(); {
		case (k == protoreflect.BytesKind || k == protoreflect.StringKind && (!col.UTF8 || validUTF8(el.Bytes))) && el.Field == col.Num && el.Kind == col.Kind:
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, el.Bytes)
		default: // col.Value refuses what the case above cannot append
			v, err := col.Value(el)
			if err != nil {
				return nil, corrupt(key, "key column %s: %v", col.Field.Name(), err)
			}
			b = appendScalar(b, num, col.Field, v)
		}
		off += n
	}
	return b, nil
}

// maxRowNexts is the most keys a row may hold for a forward scan of
// inline fields to step from row to row with Next rather than seek
// (stepper.nexts): one Next moves the LSM tree's top iterator only, a seek
// repositions every level, about the price of a few Nexts.
const maxRowNexts = 3

// rowNexts returns the stepper.nexts of a forward scan of inline fields
// of rows with layout n: the most keys a row's range can hold, when that
// is at most maxRowNexts; 0 (seek) otherwise.
func rowNexts(n *schema.Node) int {
	if k, ok := maxKeys(n, 0); ok && k <= maxRowNexts {
		return k
	}
	return 0
}

// maxKeys returns the most keys the object with layout n can hold under
// its key, its own included; ok is false when that is unbounded (a map
// stored under it, map-scoped index entries) or deeper than maxFastDepth.
func maxKeys(n *schema.Node, depth int) (int, bool) {
	if len(n.IndexedMaps) > 0 || depth >= maxFastDepth {
		return 0, false
	}
	k := 1
	for _, f := range n.Children {
		switch {
		case f.Apart:
		case f.Storage == schema.Breakout:
			k++
		case f.Storage == schema.Object:
			c, ok := maxKeys(f.Child, depth+1)
			if !ok {
				return 0, false
			}
			k += c
		default:
			return 0, false
		}
	}
	return k, true
}

// steppedRowScan, set by tests and benchmarks only, makes forward row
// scans of inline fields take the stepper and readOwn (scanWhole's general
// loop) instead of scanOwn, to compare the two.
var steppedRowScan atomic.Bool

// scanOwn is scanWhole's loop for a forward scan of the rows of t (layout
// n, the table's root) in [lo, hi) whose projection p selects inline
// fields only (inlineOnly): what the stepper and readOwn do for it, on
// the iterator itself. Each row is landed on once: its first key is
// parsed once for the row key (rowKeyCols, which also records where its
// columns end for the row plan: ownKeyCols), the row's own value, when that
// key is the row's, goes to emit straight from the iterator (filtered
// and checked unless unfiltered, as readOwn), and the row's other keys
// are stepped over with at most rowNexts(n) Next calls, then a seek past
// the row (stepper.next's stepPast and seekPast) unless no key of [lo, hi)
// can follow it (stepper.lastUnit), without the walker's
// record of the gap it passed or the stepper's compare of the row key
// with the walker's. A row without an own value but with keys below it
// exists: emit gets its key and no bytes, as from readOwn. Every key
// landed on is counted and checks the context (walker.land), a key that
// is not a row's ends the scan with rowKeyCols' error, and at most limit
// rows (0: no limit) are emitted. An iterator that implements
// kv.PairNexter steps with NextPair, one call for Next, Key and Value.
// The iterator's Close error is returned
// when the scan has no error of its own, also after emit stopped it.
func (e *exec) scanOwn(lo, hi []byte, limit int, t *Table, n *schema.Node, p *query.Proj, unfiltered bool, emit func(key, wire []byte) (bool, error)) (err error) {
	if !below(lo, hi) {
		return nil
	}
	it, err := e.r.NewIter(e.ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer kv.CloseInto(it, &err) // the scan's error when it has none of its own
	defer e.ownKey.forget()      // valid only while emit has the row
	nexts := rowNexts(n)
	// Every key of the range in the table: rowKeyCols need not compare
	// each key's start with its prefix.
	under := keysUnder(lo, hi, t.prefix)
	// The engine's one call for Next, Key and Value, when it has one:
	// three calls through the interface for every row otherwise.
	pn, _ := it.(kv.PairNexter)
	row := e.buf(0) // the row key, valid across the moves past the row
	var end []byte  // the row's prefix end, for the seek past it
	key, val, ok := e.landOn(it, it.SeekGE(lo))
	for count := 0; ok; {
		kn, err := t.rowKeyCols(key, &e.ownKey, under)
		if err != nil {
			return err
		}
		if kn <= cap(row) {
			row = row[:kn]
			copy(row, key)
		} else {
			row = append(row[:0], key[:kn]...)
			e.kb[0] = row // kept for the next scan
		}
		var wire []byte
		if len(key) == kn {
			// The row's own value; otherwise only keys below it.
			wire = val
			if !unfiltered {
				if wire, err = e.filterChecked(key, val, n, p); err != nil {
					return err
				}
			}
		}
		count++
		if more, err := emit(row, wire); !more || err != nil {
			return err
		}
		if limit > 0 && count >= limit {
			return nil
		}
		// Past the row: Next while the row may hold more keys, a seek
		// past it when it holds more than nexts.
		inRow := true
		for i := 0; i < nexts && inRow; i++ {
			if pn == nil {
				key, val, ok = e.landOn(it, it.Next())
			} else if key, val, ok = pn.NextPair(); ok {
				ok = e.landed(key, val)
			} else {
				e.missed(it)
			}
			if !ok {
				break
			}
			inRow = bytes.HasPrefix(key, row)
		}
		if ok && inRow {
			var more bool
			if end, more = tuple.AppendPrefixEnd(end[:0], row); !more {
				break // nothing sorts after an all-0xFF row key
			}
			if hi != nil && bytes.Compare(end, hi) >= 0 {
				break // the range's last row: no seek (stepper.lastUnit)
			}
			key, val, ok = e.landOn(it, it.SeekGE(end))
		}
	}
	return e.err
}

// keysUnder reports whether every key of [lo, hi) starts with prefix:
// lo does, and hi (nil: no upper bound) is at most tuple.PrefixEnd(prefix),
// the first key after those starting with prefix (with none, every key
// from lo on starts with it).
func keysUnder(lo, hi, prefix []byte) bool {
	if !bytes.HasPrefix(lo, prefix) {
		return false
	}
	m := len(prefix)
	for m > 0 && prefix[m-1] == 0xFF {
		m--
	}
	if m == 0 {
		return true
	}
	if hi == nil {
		return false
	}
	// PrefixEnd(prefix) is prefix[:m-1] followed by the byte prefix[m-1]+1.
	if !bytes.HasPrefix(hi, prefix[:m-1]) {
		return bytes.Compare(hi, prefix[:m-1]) < 0
	}
	if len(hi) == m-1 {
		return true
	}
	if b, last := hi[m-1], prefix[m-1]+1; b != last {
		return b < last
	}
	return len(hi) == m
}

// ownKeyCols returns what scanOwn found of the key columns of the row it
// hands to emit (for the row plan's setKeys), or nil outside scanOwn's
// emit: the row keys of scanWhole's other loops are not parsed for it.
func (e *exec) ownKeyCols() *keyCols {
	if e.ownKey.n == 0 {
		return nil
	}
	return &e.ownKey
}

// landOn is walker.land for an iterator moved without a walker
// (scanOwn): the pair the move (which returned ok) landed on, counted,
// or false at the end of the range, on the iterator's error, when the
// context is done or a limit is reached (the error is then the exec's).
func (e *exec) landOn(it kv.Iterator, ok bool) ([]byte, []byte, bool) {
	if e.done != nil {
		select {
		case <-e.done:
			if e.err == nil {
				e.err = e.ctx.Err()
			}
			return nil, nil, false
		default:
		}
	}
	if !ok {
		if err := it.Error(); err != nil && e.err == nil {
			e.err = err
		}
		return nil, nil, false
	}
	key, val := it.Key(), it.Value()
	if !e.count(key, val) {
		return nil, nil, false
	}
	return key, val, true
}

// landed is landOn's for a move that returned the pair (key, val) it
// landed on itself (kv.PairNexter's NextPair): the pair counted, or false
// when the context is done or a limit is reached (the error is then the
// exec's).
func (e *exec) landed(key, val []byte) bool {
	if e.done != nil {
		select {
		case <-e.done:
			if e.err == nil {
				e.err = e.ctx.Err()
			}
			return false
		default:
		}
	}
	return e.count(key, val)
}

// missed is landOn's for a move that found no pair: the iterator's error,
// or the context's when it is done, becomes the exec's.
func (e *exec) missed(it kv.Iterator) {
	if e.done != nil {
		select {
		case <-e.done:
			if e.err == nil {
				e.err = e.ctx.Err()
			}
			return
		default:
		}
	}
	if err := it.Error(); err != nil && e.err == nil {
		e.err = err
	}
}
