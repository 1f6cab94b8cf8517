package runtime

import (
	"context"
	"iter"

	"google.golang.org/protobuf/proto"
)

// Entry is one map entry as a typed map scan yields it.
type Entry[K, V any] struct {
	// Key is the entry's map key.
	Key K
	// Value is the entry's value.
	Value V
}

// Map is the typed view of a map field with keys of Go type K and scalar
// values of Go type V: one key per entry, below the object holding the map.
type Map[K, V any] struct{ Handle }

// Get reads the entry's one key. It returns an error wrapping ErrNotFound
// when the map has no entry k.
func (m Map[K, V]) Get(ctx context.Context, k K) (V, error) {
	return getTyped[V](ctx, entry(m.Handle, k))
}

// Set writes the entry's one key: a blind write that reads nothing and
// leaves the value of the object holding the map alone.
func (m Map[K, V]) Set(ctx context.Context, k K, v V) error {
	return setTyped(ctx, entry(m.Handle, k), v)
}

// Delete deletes the entry k.
func (m Map[K, V]) Delete(ctx context.Context, k K) error { return deleteAt(ctx, entry(m.Handle, k)) }

// Clear deletes every entry: one range delete of the map's key range.
func (m Map[K, V]) Clear(ctx context.Context) error { return deleteAt(ctx, m.Handle) }

// Scan reads every entry in one range scan, in stored key order; opts
// limits, reverses or resumes the scan (ScanOptions.After takes a Cursor).
// The first error ends the sequence.
func (m Map[K, V]) Scan(ctx context.Context, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanEntries[K, V](ctx, m.Handle, nil, nil, opts)
}

// ScanAtLeast is Scan of the entries whose key is at least lo.
func (m Map[K, V]) ScanAtLeast(ctx context.Context, lo K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanEntries[K, V](ctx, m.Handle, &lo, nil, opts)
}

// ScanBelow is Scan of the entries whose key is below hi.
func (m Map[K, V]) ScanBelow(ctx context.Context, hi K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanEntries[K, V](ctx, m.Handle, nil, &hi, opts)
}

// ScanRange is Scan of the entries whose key is in [lo, hi).
func (m Map[K, V]) ScanRange(ctx context.Context, lo, hi K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanEntries[K, V](ctx, m.Handle, &lo, &hi, opts)
}

// Cursor returns the key of the entry k, to pass as ScanOptions.After to
// resume a scan right after it. It does no I/O.
func (m Map[K, V]) Cursor(k K) ([]byte, error) { return cursorAt(entry(m.Handle, k)) }

// ObjectMap is the typed view of a map field with keys of Go type K and
// message values of Go type M: each entry is an object (see Object) whose
// own key, below the object holding the map, holds its inline fields.
type ObjectMap[K any, M proto.Message] struct{ Handle }

// Entry addresses the entry k. It does no I/O.
func (m ObjectMap[K, M]) Entry(k K) Object[M] { return Object[M]{entry(m.Handle, k)} }

// Get reads the entry k like Object.Get. It returns an error wrapping
// ErrNotFound when the map has no entry k.
func (m ObjectMap[K, M]) Get(ctx context.Context, k K) (M, error) {
	return getObject[M](ctx, entry(m.Handle, k))
}

// Put replaces the entry k with v like Object.Put. It neither reads nor
// writes the value of the object holding the map.
func (m ObjectMap[K, M]) Put(ctx context.Context, k K, v M) error {
	return putObject(ctx, entry(m.Handle, k), v)
}

// Delete deletes the entry k with every key below it: one range delete.
func (m ObjectMap[K, M]) Delete(ctx context.Context, k K) error {
	return deleteAt(ctx, entry(m.Handle, k))
}

// Clear deletes every entry: one range delete of the map's key range.
func (m ObjectMap[K, M]) Clear(ctx context.Context) error { return deleteAt(ctx, m.Handle) }

// Scan reads every entry in one range scan, streaming each entry as soon as
// its keys end, in stored key order; opts limits, reverses or resumes the
// scan (ScanOptions.After takes a Cursor). The first error ends the
// sequence.
func (m ObjectMap[K, M]) Scan(ctx context.Context, opts ScanOptions) iter.Seq2[Entry[K, M], error] {
	return scanEntries[K, M](ctx, m.Handle, nil, nil, opts)
}

// ScanAtLeast is Scan of the entries whose key is at least lo.
func (m ObjectMap[K, M]) ScanAtLeast(ctx context.Context, lo K, opts ScanOptions) iter.Seq2[Entry[K, M], error] {
	return scanEntries[K, M](ctx, m.Handle, &lo, nil, opts)
}

// ScanBelow is Scan of the entries whose key is below hi.
func (m ObjectMap[K, M]) ScanBelow(ctx context.Context, hi K, opts ScanOptions) iter.Seq2[Entry[K, M], error] {
	return scanEntries[K, M](ctx, m.Handle, nil, &hi, opts)
}

// ScanRange is Scan of the entries whose key is in [lo, hi).
func (m ObjectMap[K, M]) ScanRange(ctx context.Context, lo, hi K, opts ScanOptions) iter.Seq2[Entry[K, M], error] {
	return scanEntries[K, M](ctx, m.Handle, &lo, &hi, opts)
}

// Cursor returns the key of the entry k, to pass as ScanOptions.After to
// resume a scan right after it. It does no I/O.
func (m ObjectMap[K, M]) Cursor(k K) ([]byte, error) { return cursorAt(entry(m.Handle, k)) }

func deleteAt(ctx context.Context, h Handle) error {
	if h.err != nil {
		return h.err
	}
	return h.q.Delete(ctx, h.ref)
}

func cursorAt(h Handle) ([]byte, error) {
	if h.err != nil {
		return nil, h.err
	}
	return h.ref.Key(), nil
}

// scanEntries streams the entries of the map at h with keys in [lo, hi)
// (nil: unbounded) as Entry[K, V].
func scanEntries[K, V any](ctx context.Context, h Handle, lo, hi *K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return func(yield func(Entry[K, V], error) bool) {
		var kr KeyRange
		var err error
		if h.err == nil && lo != nil {
			kr.Lower, err = valueOf(*lo)
		}
		if err == nil && hi != nil {
			kr.Upper, err = valueOf(*hi)
		}
		if err != nil {
			err = invalid("%s key range: %v", h.ref, err)
		} else {
			err = h.err
		}
		if err != nil {
			yield(Entry[K, V]{}, err)
			return
		}
		for e, err := range h.q.ScanMap(ctx, h.ref, kr, opts) {
			var out Entry[K, V]
			if err == nil {
				out.Key, err = valueAs[K](e.Key)
			}
			if err == nil {
				out.Value, err = valueAs[V](e.Value)
			}
			if err != nil {
				yield(Entry[K, V]{}, err)
				return
			}
			if !yield(out, nil) {
				return
			}
		}
	}
}
