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

// entries holds what Map and ObjectMap share: deletes, scans and cursors of
// a map with keys of Go type K and values of Go type V.
type entries[K, V any] struct{ Handle }

// Delete deletes the entry k with every key below it (one key for a scalar
// entry, a range delete for an object entry).
func (m entries[K, V]) Delete(ctx context.Context, k K) error {
	return deleteAt(ctx, entry(m.Handle, k))
}

// Clear deletes every entry: one range delete of the map's key range.
func (m entries[K, V]) Clear(ctx context.Context) error { return deleteAt(ctx, m.Handle) }

// Scan reads every entry in one range scan, streaming each entry as soon as
// its keys end, in stored key order (a descending map key largest first);
// opts limits, reverses or resumes the scan (ScanOptions.After takes a
// Cursor). The first error ends the sequence.
func (m entries[K, V]) Scan(ctx context.Context, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanTyped[K, V](ctx, m.Handle, nil, nil, opts)
}

// ScanAtLeast is Scan of the entries whose key is at least lo.
func (m entries[K, V]) ScanAtLeast(ctx context.Context, lo K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanTyped[K, V](ctx, m.Handle, &lo, nil, opts)
}

// ScanBelow is Scan of the entries whose key is below hi.
func (m entries[K, V]) ScanBelow(ctx context.Context, hi K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanTyped[K, V](ctx, m.Handle, nil, &hi, opts)
}

// ScanRange is Scan of the entries whose key is in [lo, hi).
func (m entries[K, V]) ScanRange(ctx context.Context, lo, hi K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
	return scanTyped[K, V](ctx, m.Handle, &lo, &hi, opts)
}

// Cursor returns the cursor of the entry k, to pass as ScanOptions.After
// to resume a scan right after it (see DB.ScanCursor). It does no I/O.
func (m entries[K, V]) Cursor(k K) (string, error) { return cursorAt(entry(m.Handle, k)) }

// Map is the typed view of a map field with keys of Go type K and scalar
// values of Go type V: one key per entry, below the object holding the map.
// Besides Get and Set it has Delete, Clear, Scan, ScanAtLeast, ScanBelow,
// ScanRange and Cursor.
type Map[K, V any] struct{ entries[K, V] }

// MapAt returns the Map view of the map at h. It does no I/O.
func MapAt[K, V any](h Handle) Map[K, V] { return Map[K, V]{entries[K, V]{h}} }

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

// ObjectMap is the typed view of a map field with keys of Go type K and
// message values of Go type M: each entry is an object (see Object) whose
// own key, below the object holding the map, holds its inline fields.
// Besides Entry, Get and Put it has Delete, Clear, Scan, ScanAtLeast,
// ScanBelow, ScanRange and Cursor.
type ObjectMap[K any, M proto.Message] struct{ entries[K, M] }

// ObjectMapAt returns the ObjectMap view of the map at h. It does no I/O.
func ObjectMapAt[K any, M proto.Message](h Handle) ObjectMap[K, M] {
	return ObjectMap[K, M]{entries[K, M]{h}}
}

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

func deleteAt(ctx context.Context, h Handle) error {
	if err := h.failed(); err != nil {
		return err
	}
	return h.q.Delete(ctx, h.ref)
}

func cursorAt(h Handle) (string, error) {
	if err := h.failed(); err != nil {
		return "", err
	}
	return h.ref.table.db.ScanCursor(h.ref)
}

// scanTyped streams the entries of the map at h with keys in [lo, hi)
// (nil: unbounded) as Entry[K, V].
func scanTyped[K, V any](ctx context.Context, h Handle, lo, hi *K, opts ScanOptions) iter.Seq2[Entry[K, V], error] {
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
			err = h.failed()
		}
		if err != nil {
			yield(Entry[K, V]{}, err)
			return
		}
		for e, err := range h.q.ScanMap(ctx, h.ref, kr, opts) {
			var out Entry[K, V]
			if err == nil {
				out.Key, err = valueAs[K](e.Key, h.ref.field.MapKey)
			}
			if err == nil {
				out.Value, err = valueAs[V](e.Value, h.ref.field.MapValue)
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
