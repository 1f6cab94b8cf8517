package remotekv_test

import (
	"context"

	"github.com/protoql/protoql/kv"
)

// The KVService keeps protoql's metadata keys (first byte 0x00) to the
// server, so the conformance suite, which uses every key, runs on remotekv
// through prefixed: every key of the suite lives under one byte, as a
// runtime namespace keeps a remote DB's keys (its metadata included).

const keyPrefix = 0x05

// pk prefixes a key; the empty key stays empty, so that it is refused as
// the suite expects.
func pk(k []byte) []byte {
	if len(k) == 0 {
		return k
	}
	return append([]byte{keyPrefix}, k...)
}

// prange prefixes both ends of a DeleteRange (whose empty end is the empty
// key, not "unbounded").
func prange(start, end []byte) ([]byte, []byte) {
	return append([]byte{keyPrefix}, start...), append([]byte{keyPrefix}, end...)
}

func pbounds(o kv.IterOptions) kv.IterOptions {
	lo := append([]byte{keyPrefix}, o.LowerBound...)
	hi := []byte{keyPrefix + 1}
	if len(o.UpperBound) > 0 {
		hi = append([]byte{keyPrefix}, o.UpperBound...)
	}
	return kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: o.Reverse}
}

type prefixed struct{ kv.Store }

func (p prefixed) Get(ctx context.Context, key []byte) ([]byte, error) {
	return p.Store.Get(ctx, pk(key))
}

func (p prefixed) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	return newPrefixedIter(p.Store.NewIter(ctx, pbounds(o)))
}

func (p prefixed) Apply(ctx context.Context, b *kv.Batch) error {
	var pb kv.Batch
	w := prefixedWriter{&pb}
	for _, op := range b.Ops() {
		var err error
		switch op.Kind {
		case kv.OpSet:
			err = w.Set(op.Key, op.Value)
		case kv.OpDelete:
			err = w.Delete(op.Key)
		default:
			err = w.DeleteRange(op.Key, op.Value)
		}
		if err != nil {
			return err
		}
	}
	return p.Store.Apply(ctx, &pb)
}

func (p prefixed) Update(ctx context.Context, fn func(kv.Txn) error) error {
	return p.Store.Update(ctx, func(tx kv.Txn) error { return fn(prefixedTxn{prefixedReader{tx}, prefixedWriter{tx}}) })
}

func (p prefixed) View(ctx context.Context, fn func(kv.Reader) error) error {
	return p.Store.View(ctx, func(r kv.Reader) error { return fn(prefixedReader{r}) })
}

type prefixedReader struct{ r kv.Reader }

func (p prefixedReader) Get(ctx context.Context, key []byte) ([]byte, error) {
	return p.r.Get(ctx, pk(key))
}

func (p prefixedReader) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	return newPrefixedIter(p.r.NewIter(ctx, pbounds(o)))
}

type prefixedWriter struct{ w kv.Writer }

func (p prefixedWriter) Set(key, value []byte) error { return p.w.Set(pk(key), value) }
func (p prefixedWriter) Delete(key []byte) error     { return p.w.Delete(pk(key)) }
func (p prefixedWriter) DeleteRange(start, end []byte) error {
	// Prefixing keeps the order of start and end, so a reversed range is
	// still refused.
	s, e := prange(start, end)
	return p.w.DeleteRange(s, e)
}

type prefixedTxn struct {
	prefixedReader
	prefixedWriter
}

type prefixedIter struct{ kv.Iterator }

func newPrefixedIter(it kv.Iterator, err error) (kv.Iterator, error) {
	if err != nil {
		return nil, err
	}
	return prefixedIter{it}, nil
}

func (p prefixedIter) SeekGE(key []byte) bool {
	return p.Iterator.SeekGE(append([]byte{keyPrefix}, key...))
}
func (p prefixedIter) SeekLT(key []byte) bool {
	if len(key) == 0 {
		// No key is below the empty key; the inner iterator still checks
		// the direction.
		return p.Iterator.SeekLT([]byte{keyPrefix})
	}
	return p.Iterator.SeekLT(append([]byte{keyPrefix}, key...))
}

func (p prefixedIter) Key() []byte {
	if k := p.Iterator.Key(); len(k) > 0 {
		return k[1:]
	}
	return nil
}

// NextPair forwards the client's kv.PairNexter (every remotekv iterator
// offers it), so that kvtest checks it through the prefix.
func (p prefixedIter) NextPair() ([]byte, []byte, bool) {
	k, v, ok := p.Iterator.(kv.PairNexter).NextPair()
	if ok && len(k) > 0 {
		k = k[1:]
	}
	return k, v, ok
}
