package pebblekv

import (
	"context"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// pointReader is the reader of View: one point in time of the database
// without a Pebble snapshot. View opens an unbounded iterator (the
// anchor, never positioned) when it starts; every iterator the view opens is a clone
// of it, and a point read is a clone bounded to the key, so all of them
// read the same sequence number and the same memtables and tables, which
// is what a snapshot guarantees. A snapshot costs more per View: Pebble
// links it into the DB's snapshot list under the DB mutex, and closing it
// re-runs the compaction picker (Snapshot.Close → maybeScheduleCompaction),
// which for a short query was a large share of its time and allocations.
type pointReader struct {
	anchor *pebble.Iterator
}

func newPointReader(ctx context.Context, db *pebble.DB) (*pointReader, error) {
	it, err := db.NewIterWithContext(ctx, &pebble.IterOptions{})
	if err != nil {
		return nil, err
	}
	return &pointReader{anchor: it}, nil
}

func (p *pointReader) NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error) {
	if o == nil {
		o = &pebble.IterOptions{} // nil would adopt the anchor's options
	}
	return p.anchor.CloneWithContext(ctx, pebble.CloneOptions{IterOptions: o})
}

// Get reads key at the view's point in time; the value is valid until
// the closer, the iterator that read it, is closed.
func (p *pointReader) Get(key []byte) ([]byte, io.Closer, error) {
	hi := append(append(make([]byte, 0, len(key)+1), key...), 0)
	it, err := p.NewIterWithContext(context.Background(), &pebble.IterOptions{LowerBound: key, UpperBound: hi})
	if err != nil {
		return nil, nil, err
	}
	if !it.First() {
		if err := it.Close(); err != nil {
			return nil, nil, err
		}
		return nil, nil, pebble.ErrNotFound
	}
	v, err := it.ValueAndErr()
	if err != nil {
		_ = it.Close()
		return nil, nil, err
	}
	return v, it, nil
}

// close closes the anchor; the view's iterators are closed by scope.end.
func (p *pointReader) close() error { return p.anchor.Close() }
