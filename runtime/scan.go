package runtime

import (
	"bytes"
	"context"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
)

// ScanOptions orients and bounds a scan of rows or map entries.
type ScanOptions struct {
	// Reverse visits results in descending key order.
	Reverse bool
	// Limit stops after this many results; 0 means no limit.
	Limit int
	// After resumes strictly after the result with this key (the Key of a
	// result's Ref), in the scan's direction.
	After []byte
}

// units describes what a scan emits: objects whose key is the first
// unitLen bytes of each key they contain.
type units struct {
	node    *schema.Node // layout of each emitted object; nil for scalar map entries
	unitLen func(key []byte) (int, error)
}

// scanner streams the objects of [lo, hi) in key order (or reverse),
// reassembling each from its pairs. Reverse scans buffer one object's pairs
// (bounded by the object, not the scan) and feed them in ascending order.
type scanner struct {
	r    kv.Reader
	u    units
	opts ScanOptions
	asm  assembler
	cur  []byte // the current object's key
	rev  pairs  // reverse scans: the current object's pairs, descending
}

// scanners recycles scanners with their frame buffers, so that a Get or a
// scan allocates for its results, not for its working memory.
var scanners = sync.Pool{New: func() any { return new(scanner) }}

// maxPooledBuf caps the buffer a pooled scanner keeps: one huge object must
// not pin its memory for the life of the process.
const maxPooledBuf = 1 << 20

func newScanner(r kv.Reader, u units, opts ScanOptions) *scanner {
	s := scanners.Get().(*scanner)
	s.r, s.u, s.opts = r, u, opts
	return s
}

// release returns s to the pool; s must not be used afterwards.
func (s *scanner) release() {
	s.r, s.u, s.opts = nil, units{}, ScanOptions{}
	for i := range s.asm.stack {
		if cap(s.asm.stack[i].buf) > maxPooledBuf {
			s.asm.stack[i].buf = nil
		}
	}
	if cap(s.rev.buf) > maxPooledBuf {
		s.rev = pairs{}
	}
	scanners.Put(s)
}

// run calls yield for every object, with bytes valid only during the call.
// It returns the first error met; yield returning false stops it early.
func (s *scanner) run(ctx context.Context, lo, hi []byte, yield func(key, wire []byte) bool) error {
	if s.opts.After != nil {
		var ok bool
		if lo, hi, ok = schema.After(lo, hi, s.opts.After, s.opts.Reverse); !ok {
			return nil // nothing left after the cursor
		}
	} else if hi != nil && bytes.Compare(lo, hi) >= 0 {
		return nil // an empty range
	}
	it, err := s.r.NewIter(ctx, kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: s.opts.Reverse})
	if err != nil {
		return err
	}
	defer it.Close()
	// The context is checked on every key, inside an object as well as
	// between objects: one huge object must not outlive its deadline.
	done := ctx.Done()
	n, open := 0, false
	for ok := it.First(); ok; {
		if done != nil {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		k := it.Key()
		if !open || !bytes.HasPrefix(k, s.cur) {
			if open {
				if stop, err := s.emit(&n, yield); stop || err != nil {
					return err
				}
			}
			if err := s.start(k); err != nil {
				return err
			}
			open = true
		}
		if ok, err = s.step(it, k); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if open {
		_, err := s.emit(&n, yield)
		return err
	}
	return nil
}

// start opens the object that key belongs to.
func (s *scanner) start(key []byte) error {
	ul, err := s.u.unitLen(key)
	if err != nil {
		return err
	}
	s.cur = append(s.cur[:0], key[:ul]...)
	s.rev.reset()
	if s.u.node != nil {
		s.asm.reset(s.cur, s.u.node)
	}
	return nil
}

// step consumes the iterator's pair and moves on.
func (s *scanner) step(it kv.Iterator, k []byte) (bool, error) {
	switch {
	case s.u.node == nil:
		if len(k) != len(s.cur) {
			return false, corrupt(k, "a scalar map entry holds no keys below it")
		}
		s.rev.add(k, it.Value())
	case s.opts.Reverse:
		s.rev.add(k, it.Value())
	default:
		if err := s.asm.add(k, it.Value()); err != nil {
			return false, err
		}
	}
	return it.Next(), nil
}

// emit finishes the current object and yields it; stop reports whether the
// scan must end (limit reached or yield declined).
func (s *scanner) emit(n *int, yield func(key, wire []byte) bool) (stop bool, err error) {
	var wire []byte
	switch {
	case s.u.node == nil:
		wire = s.rev.value(0)
	case s.opts.Reverse:
		if err := s.feedReversed(); err != nil {
			return true, err
		}
		wire = s.asm.finish()
	default:
		wire = s.asm.finish()
	}
	*n++
	if !yield(s.cur, wire) {
		return true, nil
	}
	return s.opts.Limit > 0 && *n >= s.opts.Limit, nil
}

// feedReversed feeds a reverse scan's buffered pairs in ascending order.
func (s *scanner) feedReversed() error {
	for i := s.rev.len() - 1; i >= 0; i-- {
		if err := s.asm.add(s.rev.key(i), s.rev.value(i)); err != nil {
			return err
		}
	}
	return nil
}

// pairs is an arena of key-value pairs: one object's worth in a reverse scan.
type pairs struct {
	buf  []byte
	offs []int // key start, value start, per pair
}

func (p *pairs) reset() { p.buf, p.offs = p.buf[:0], p.offs[:0] }

func (p *pairs) add(k, v []byte) {
	p.offs = append(p.offs, len(p.buf))
	p.buf = append(p.buf, k...)
	p.offs = append(p.offs, len(p.buf))
	p.buf = append(p.buf, v...)
}

func (p *pairs) len() int { return len(p.offs) / 2 }

func (p *pairs) key(i int) []byte { return p.buf[p.offs[2*i]:p.offs[2*i+1]] }

func (p *pairs) value(i int) []byte {
	end := len(p.buf)
	if 2*i+2 < len(p.offs) {
		end = p.offs[2*i+2]
	}
	return p.buf[p.offs[2*i+1]:end]
}
