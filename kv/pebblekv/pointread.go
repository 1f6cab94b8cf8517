package pebblekv

import (
	"context"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// pointReader is the reader of View: one point in time of the database
// without a Pebble snapshot. View opens an unbounded iterator (the
// anchor) when it starts; every iterator the view opens, and every point
// read (bounded to its key), is the anchor itself or a clone of it, so all
// of them read the same sequence number and the same memtables and
// tables, which is what a snapshot guarantees. A snapshot costs more per
// View: Pebble links it into the DB's snapshot list under the DB mutex,
// and closing it re-runs the compaction picker (Snapshot.Close →
// maybeScheduleCompaction), which for a short query was a large share of
// its time and allocations.
//
// The anchor is lent out as the view's first iterator (and again once its
// borrower closed it), with the borrower's bounds set on it, and to a point
// read while no iterator holds it: a view that reads with one iterator at
// a time, as a point query or a unique index lookup (its entry, then its
// row) does, then builds one Pebble iterator instead of the anchor and a
// clone for each read. Only the view's end closes the anchor (close); a
// borrower's Close gives it back (release), as a point read's closer does.
type pointReader struct {
	anchor *pebble.Iterator
	lent   bool
	// hi holds a point read's upper bound, key+0x00, between Get's
	// building it and handing it to Pebble, which copies bounds into the
	// iterator's own buffers (SetBounds, and a clone's options): so one
	// buffer serves every read of the view, which has one goroutine at a
	// time (package kv's concurrency rule). It starts as hiBuf, so a
	// view's reads of keys under 64 bytes allocate no bound at all.
	hi    []byte
	hiBuf [64]byte
}

func newPointReader(ctx context.Context, db *pebble.DB) (*pointReader, error) {
	it, err := db.NewIterWithContext(ctx, &pebble.IterOptions{})
	if err != nil {
		return nil, err
	}
	p := &pointReader{anchor: it}
	p.hi = p.hiBuf[:0]
	return p, nil
}

// NewIterWithContext returns the anchor with o's bounds when it is free,
// else a clone of it with options o. o holds bounds only (newIter's).
func (p *pointReader) NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error) {
	if o == nil {
		o = &pebble.IterOptions{} // nil would adopt the anchor's options
	}
	if !p.lent {
		p.lent = true
		// Set whatever ctx is: comparing contexts can panic (a context
		// type that is not comparable), and setting is two assignments.
		p.anchor.SetContext(ctx)
		// SetBounds leaves the anchor unpositioned, like a new iterator.
		p.anchor.SetBounds(o.LowerBound, o.UpperBound)
		return p.anchor, nil
	}
	return p.anchor.CloneWithContext(ctx, pebble.CloneOptions{IterOptions: o})
}

// release takes it back when it is the anchor, which the borrower must
// then no longer use, and reports whether it was.
func (p *pointReader) release(it *pebble.Iterator) bool {
	if it != p.anchor {
		return false
	}
	p.lent = false
	return true
}

// Get reads key at the view's point in time; the value is valid until
// the closer is closed. It reads with the anchor when it is free (the
// closer gives it back: a point read, as an index lookup's entry before
// its row, then builds no Pebble iterator of its own), else with a clone
// of it, which the closer closes. Either is bounded to the key and
// positioned with SeekPrefixGE, as pebble.DB.Get positions its own
// iterator: a prefix seek consults the tables' bloom filters
// (Options.BloomBitsPerKey) and skips the tables that do not hold the key,
// where First, a plain seek, would search every table's index. The bounds
// keep the read to key itself whatever the comparer's Split makes the
// prefix; the upper one is built in p.hi, not allocated per read.
func (p *pointReader) Get(key []byte) ([]byte, io.Closer, error) {
	p.hi = append(append(p.hi[:0], key...), 0)
	hi := p.hi
	var it *pebble.Iterator
	var closer io.Closer
	if !p.lent {
		p.lent = true
		it, closer = p.anchor, (*anchorLoan)(p)
		it.SetBounds(key, hi) // copies them; leaves it unpositioned
	} else {
		var err error
		it, err = p.anchor.CloneWithContext(context.Background(), pebble.CloneOptions{IterOptions: &pebble.IterOptions{LowerBound: key, UpperBound: hi}})
		if err != nil {
			return nil, nil, err
		}
		closer = it
	}
	if !it.SeekPrefixGE(key) {
		if err := it.Error(); err != nil {
			_ = closer.Close()
			return nil, nil, err
		}
		if err := closer.Close(); err != nil {
			return nil, nil, err
		}
		return nil, nil, pebble.ErrNotFound
	}
	v, err := it.ValueAndErr()
	if err != nil {
		_ = closer.Close()
		return nil, nil, err
	}
	return v, closer, nil
}

// anchorLoan is the closer of a Get that read with the anchor: its Close
// gives the anchor back (the view's end closes it).
type anchorLoan pointReader

func (a *anchorLoan) Close() error {
	a.lent = false
	return nil
}

// close closes the anchor; the view's other iterators are closed by
// scope.end, which leaves the anchor to this.
func (p *pointReader) close() error { return p.anchor.Close() }
