package remotekv

import (
	"bytes"
	"fmt"

	"github.com/protoql/protoql/kv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// Page sizes of an iterator: firstPage pairs after a positioning call,
// doubling on each Next past a page up to maxPage (the server also cuts
// pages at about 1 MiB).
const (
	firstPage = 16
	maxPage   = 1024
)

// iter is a kv.Iterator over an iterator of a server-side transaction. It
// holds one page of pairs; the server's iterator stays at the page's last
// pair.
type iter struct {
	a     *attempt
	id    uint32
	opts  kv.IterOptions
	owner bool // a Store-level iterator: Close ends its session

	pairs     []*protoqlv1.KeyValue
	pos       int
	exhausted bool // the server has no pairs after pairs
	valid     bool
	page      uint32
	err       error
	closed    bool
}

// newIter queues the open step, so the iterator sees the transaction's
// writes made before now and not later ones.
func (a *attempt) newIter(opts kv.IterOptions, owner bool) *iter {
	s := a.s
	it := &iter{a: a, id: s.nextIter, owner: owner, opts: kv.IterOptions{
		LowerBound: bytes.Clone(opts.LowerBound), UpperBound: bytes.Clone(opts.UpperBound), Reverse: opts.Reverse,
	}}
	s.nextIter++
	open := &protoqlv1.TransactRequest_OpenIterator{Iterator: it.id, Options: &protoqlv1.IteratorOptions{
		LowerBound: it.opts.LowerBound, UpperBound: it.opts.UpperBound, Reverse: it.opts.Reverse,
	}}
	if err := s.addStep(&step{Step: &protoqlv1.TransactRequest_Step_Open{Open: open}}, len(opts.LowerBound)+len(opts.UpperBound)); err != nil {
		it.err = err
	}
	return it
}

// usable reports whether a positioning call may proceed, recording why
// not: a call after Close, or after the iterator's transaction or the
// store ended, fails with kv.ErrClosed.
func (it *iter) usable() bool {
	if it.err == nil {
		if it.closed {
			it.err = errIterClosed
		} else {
			it.err = it.a.check("iterator", nil)
		}
	}
	if it.err != nil {
		it.valid, it.pairs = false, nil
		return false
	}
	return true
}

// fail records err, which sticks, and leaves the iterator unpositioned.
func (it *iter) fail(err error) bool {
	it.err, it.valid, it.pairs = err, false, nil
	return false
}

// positioned reports whether the iterator is at a pair. One whose
// transaction or store has ended is not, and records why.
func (it *iter) positioned() bool {
	if !it.valid {
		return false
	}
	if err := it.a.check("iterator", nil); err != nil {
		it.valid, it.pairs = false, nil
		if it.err == nil {
			it.err = err
		}
	}
	return it.valid
}

func (it *iter) First() bool {
	return it.seek(protoqlv1.TransactRequest_Seek_KIND_FIRST, nil)
}

// Errors of a seek of the wrong direction, refused like the other engines'
// once the iterator is known usable: after Close, or once the transaction
// or the store ended, the seek fails with kv.ErrClosed as every other
// positioning call does.
var (
	errWrongSeekGE = fmt.Errorf("remotekv: %w: SeekGE on a reverse iterator", kv.ErrInvalid)
	errWrongSeekLT = fmt.Errorf("remotekv: %w: SeekLT on a forward iterator", kv.ErrInvalid)
)

func (it *iter) SeekGE(key []byte) bool {
	return it.seek(protoqlv1.TransactRequest_Seek_KIND_GE, key)
}

func (it *iter) SeekLT(key []byte) bool {
	return it.seek(protoqlv1.TransactRequest_Seek_KIND_LT, key)
}

func (it *iter) seek(kind protoqlv1.TransactRequest_Seek_Kind, key []byte) bool {
	if !it.usable() {
		return false
	}
	switch {
	case kind == protoqlv1.TransactRequest_Seek_KIND_GE && it.opts.Reverse:
		return it.fail(errWrongSeekGE)
	case kind == protoqlv1.TransactRequest_Seek_KIND_LT && !it.opts.Reverse:
		return it.fail(errWrongSeekLT)
	}
	it.page = firstPage
	// key is marshalled before call returns: no copy needed. The first
	// key answered is at or after a SeekGE's key, before a SeekLT's.
	resp, err := it.a.s.call(&request{Action: &protoqlv1.TransactRequest_Seek_{Seek: &protoqlv1.TransactRequest_Seek{
		Iterator: it.id, Kind: kind, Key: key, Page: it.page,
	}}})
	what := "the seek key"
	switch {
	case kind == protoqlv1.TransactRequest_Seek_KIND_FIRST:
		key = nil
	case kind == protoqlv1.TransactRequest_Seek_KIND_LT && len(key) == 0:
		// No key is before the empty one: the answer must be empty (a nil
		// prev would take any key).
		key, what = []byte{}, "the empty seek key"
	}
	return it.load(resp, err, key, kind == protoqlv1.TransactRequest_Seek_KIND_LT, what)
}

func (it *iter) Next() bool {
	if !it.usable() || !it.valid {
		return false
	}
	it.pos++
	if it.pos < len(it.pairs) {
		return true
	}
	if it.exhausted {
		it.valid = false
		return false
	}
	it.page = min(2*it.page, maxPage)
	// The next page goes on past the last pair of this one (which stays
	// referenced by last: an answer's bytes are its own).
	last := it.pairs[len(it.pairs)-1].GetKey()
	resp, err := it.a.s.call(&request{Action: &protoqlv1.TransactRequest_Next_{Next: &protoqlv1.TransactRequest_Next{
		Iterator: it.id, Page: it.page,
	}}})
	return it.load(resp, err, last, true, "the previous page's last key")
}

// load takes the page of an answer, whose keys must go on from prev (nil:
// from anywhere) in the iterator's direction — past it when strict, else
// at it or past it — what names prev in an error.
func (it *iter) load(resp *response, err error, prev []byte, strict bool, what string) bool {
	it.pairs, it.pos, it.valid = nil, 0, false
	if err != nil {
		it.err = err
		return false
	}
	p := resp.GetPage()
	if p == nil {
		it.err = it.a.s.protocolError("page", resp)
		return false
	}
	if err := it.checkPage(p.GetPairs(), prev, strict, what); err != nil {
		it.err = it.a.s.fail(err)
		return false
	}
	// An empty page always ends the range, whatever the flag says, so a
	// confused server cannot make the client loop.
	it.pairs, it.exhausted = p.GetPairs(), p.GetExhausted() || len(p.GetPairs()) == 0
	it.valid = len(it.pairs) > 0
	return it.valid
}

// checkPage checks the keys of a page before any of them is handed out:
// each is not empty, inside the iterator's bounds, and past the one before
// it in the iterator's direction (the first past prev, or at it when not
// strict). The runtime above relies on every store keeping an iterator
// inside its bounds and in order, so a server that does not — a bug, an
// incompatible version, or a hostile peer — fails the iterator and its
// session with an error wrapping ErrProtocol, rather than hand out a key
// the caller did not ask for. It costs a comparison or three per pair.
func (it *iter) checkPage(pairs []*protoqlv1.KeyValue, prev []byte, strict bool, what string) error {
	lo, hi, rev := it.opts.LowerBound, it.opts.UpperBound, it.opts.Reverse
	for n, pair := range pairs {
		k := pair.GetKey()
		var want string
		switch {
		case len(k) == 0:
			want = "a non-empty key"
		case len(lo) > 0 && bytes.Compare(k, lo) < 0:
			want = "a key at or after the lower bound " + kv.KeyText(lo)
		case len(hi) > 0 && bytes.Compare(k, hi) >= 0:
			want = "a key before the upper bound " + kv.KeyText(hi)
		case prev != nil:
			c := bytes.Compare(k, prev)
			if rev {
				c = -c
			}
			if c < 0 || c == 0 && strict {
				want = orderWant(rev, strict) + what
				if len(prev) > 0 {
					want += " " + kv.KeyText(prev)
				}
			}
		}
		if want != "" {
			return fmt.Errorf("%w: iterator %d: pair %d of a page: got key %s, want %s",
				ErrProtocol, it.id, n, kv.KeyText(k), want)
		}
		prev, strict, what = k, true, "the pair before it"
	}
	return nil
}

// orderWant words the order a key must have against the one before it.
func orderWant(rev, strict bool) string {
	switch {
	case rev && strict:
		return "a key before "
	case rev:
		return "a key at or before "
	case strict:
		return "a key after "
	}
	return "a key at or after "
}

// NextPair is kv.PairNexter's: Next and, when it lands, the pair it
// landed on, which Next has just found positioned (its transaction and
// the store not ended), so Key's and Value's checks are not made again.
func (it *iter) NextPair() ([]byte, []byte, bool) {
	if !it.Next() {
		return nil, nil, false
	}
	p := it.pairs[it.pos]
	return p.GetKey(), valueOf(p.GetValue()), true
}

func (it *iter) Valid() bool { return it.positioned() }

func (it *iter) Key() []byte {
	if !it.positioned() {
		return nil
	}
	return it.pairs[it.pos].GetKey()
}

func (it *iter) Value() []byte {
	if !it.positioned() {
		return nil
	}
	return valueOf(it.pairs[it.pos].GetValue())
}

// Error returns the first error the iterator met; once its transaction or
// the store has ended, one wrapping kv.ErrClosed.
func (it *iter) Error() error {
	if it.err == nil && !it.closed {
		if err := it.a.check("iterator", nil); err != nil {
			it.valid, it.pairs, it.err = false, nil, err
		}
	}
	return it.err
}

// Close releases the server's iterator or, for a Store-level iterator,
// its whole snapshot. After the transaction or the store ended, it
// returns an error wrapping kv.ErrClosed.
//
// The iterator of a transaction (Update, View) is closed by a step sent
// with the transaction's next message, so Close itself returns only the
// iterator's own error: when the server's iterator fails to close, the
// answer to that next message (a read, or the commit of Update) carries
// the error, which fails the transaction, and Update returns it without
// committing. A close after View's last read has no next message: the
// server logs its error.
//
// A Store-level iterator's Close ends its read-only session with the
// commit action and waits for the server's answer, one round trip, so
// that it returns the error of the server's iterator's Close (as every
// other engine's Close does) rather than drop it. An iterator never
// positioned has no session on the server and costs no round trip; one
// that already failed returns its error without asking, and one whose
// context has ended closes without waiting (the server logs the Close
// error of both). The wait is bounded as a read is: by the iterator's
// context, the store's Close, and the server's transaction limits.
func (it *iter) Close() error {
	if it.closed {
		return it.err
	}
	it.closed, it.valid, it.pairs = true, false, nil
	ended := it.a.check("close", nil)
	if ended != nil && it.err == nil {
		it.err = ended
	}
	switch {
	case it.owner:
		if it.err == nil {
			it.err = it.a.s.endRead()
		}
		it.a.finish()
		it.a.s.end()
	case ended == nil:
		closeStep := &step{Step: &protoqlv1.TransactRequest_Step_Close{Close: it.id}}
		_ = it.a.s.addStep(closeStep, 4)
	}
	return it.err
}
