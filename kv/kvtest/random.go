package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/protoql/protoql/kv"
)

// alphabet is what random keys are made of: the extreme bytes and their
// neighbours, so that short keys collide, nest as prefixes and sort at the
// edges of the keyspace.
var alphabet = []byte{0x00, 0x01, 'a', 0xFE, 0xFF}

// errAbort makes a random transaction roll back.
var errAbort = errors.New("kvtest: abort")

// randomRun replays a seeded random sequence of operations on a store and on
// the model, comparing them after every step.
type randomRun struct {
	t     *testing.T
	s     kv.Store
	m     *model
	rng   *rand.Rand
	trace []string // the most recent operations, printed on failure
}

func testRandom(t *testing.T, s kv.Store) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	steps := *stepsFlag
	if steps <= 0 {
		switch {
		case testing.Short():
			steps = 500
		case raceEnabled:
			steps = 1000
		default:
			steps = 3000
		}
	}
	r := &randomRun{t: t, s: s, m: newModel(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	step := 0
	defer func() {
		if t.Failed() {
			t.Logf("random sequence failed at step %d; rerun with -kvtest.seed=%d; last operations, oldest first:\n%s",
				step, seed, strings.Join(r.trace, "\n"))
		}
	}()
	for step = range steps {
		r.step()
		checkScan(t, s, r.m, kv.IterOptions{})
		checkScan(t, s, r.m, kv.IterOptions{Reverse: true})
	}
}

func (r *randomRun) log(format string, args ...any) {
	const keep = 30
	if len(r.trace) == keep {
		r.trace = append(r.trace[:0], r.trace[1:]...)
	}
	r.trace = append(r.trace, fmt.Sprintf(format, args...))
}

func (r *randomRun) step() {
	switch w := r.rng.IntN(100); {
	case w < 25:
		r.applyBatch()
	case w < 45:
		r.update()
	case w < 70:
		r.log("store:")
		r.iterate(r.s, r.m)
	case w < 80:
		r.view()
	default:
		k := r.key()
		r.log("get %q", k)
		checkGet(r.t, r.s, r.m, k)
	}
}

func (r *randomRun) key() []byte {
	k := make([]byte, 1+r.rng.IntN(3))
	for i := range k {
		k[i] = alphabet[r.rng.IntN(len(alphabet))]
	}
	return k
}

func (r *randomRun) value() []byte {
	v := make([]byte, r.rng.IntN(7))
	for i := range v {
		v[i] = byte(r.rng.Uint32())
	}
	return v
}

// bound returns an iterator bound: often none, sometimes an empty one.
func (r *randomRun) bound() []byte {
	switch w := r.rng.IntN(100); {
	case w < 25:
		return nil
	case w < 30:
		return []byte{}
	default:
		return r.key()
	}
}

// span returns a valid DeleteRange span, occasionally empty or open at the
// start.
func (r *randomRun) span() (start, end []byte) {
	start, end = r.key(), r.key()
	if bytes.Compare(start, end) > 0 {
		start, end = end, start
	}
	if r.rng.IntN(10) == 0 {
		start = nil
	}
	return start, end
}

// write records one random write in b.
func (r *randomRun) write(b *kv.Batch) {
	switch w := r.rng.IntN(100); {
	case w < 55:
		_ = b.Set(r.key(), r.value())
	case w < 80:
		_ = b.Delete(r.key())
	default:
		_ = b.DeleteRange(r.span())
	}
}

func fmtOps(ops []kv.Op) string {
	var b strings.Builder
	for i, op := range ops {
		if i > 0 {
			b.WriteString(", ")
		}
		switch op.Kind {
		case kv.OpSet:
			fmt.Fprintf(&b, "set %q=%q", op.Key, op.Value)
		case kv.OpDelete:
			fmt.Fprintf(&b, "delete %q", op.Key)
		default:
			fmt.Fprintf(&b, "delete-range [%q, %q)", op.Key, op.Value)
		}
	}
	return b.String()
}

func (r *randomRun) applyBatch() {
	var b kv.Batch
	for range r.rng.IntN(7) {
		r.write(&b)
	}
	r.log("apply [%s]", fmtOps(b.Ops()))
	mustApply(r.t, r.s, &b)
	r.m.apply(b.Ops())
}

// update runs a transaction of random writes, reads and iterations, checked
// against a copy of the model, and commits or aborts it.
func (r *randomRun) update() {
	abort := r.rng.IntN(5) == 0
	n := r.rng.IntN(9)
	var tm *model
	r.log("update (abort=%v, %d ops):", abort, n)
	err := r.s.Update(r.t.Context(), func(tx kv.Txn) error {
		tm = r.m.clone() // fn may run more than once
		for range n {
			r.txnOp(tx, tm)
		}
		if abort {
			return errAbort
		}
		return nil
	})
	switch {
	case abort && err != errAbort:
		r.t.Fatalf("aborted Update = %v, want %v", err, errAbort)
	case !abort && err != nil:
		r.t.Fatalf("Update: %v", err)
	case !abort:
		r.m = tm
	}
}

func (r *randomRun) txnOp(tx kv.Txn, tm *model) {
	var err error
	switch w := r.rng.IntN(100); {
	case w < 30:
		k, v := r.key(), r.value()
		r.log("  set %q=%q", k, v)
		err = txnOp{kv.OpSet, k, v}.apply(tx, tm)
	case w < 50:
		k := r.key()
		r.log("  delete %q", k)
		err = txnOp{kv.OpDelete, k, nil}.apply(tx, tm)
	case w < 65:
		start, end := r.span()
		r.log("  delete-range [%q, %q)", start, end)
		err = txnOp{kv.OpDeleteRange, start, end}.apply(tx, tm)
	case w < 80:
		k := r.key()
		r.log("  get %q", k)
		checkGet(r.t, tx, tm, k)
	default:
		r.log("  txn:")
		r.iterate(tx, tm)
	}
	if err != nil {
		r.t.Fatalf("txn write: %v", err)
	}
}

func (r *randomRun) view() {
	r.log("view:")
	err := r.s.View(r.t.Context(), func(rd kv.Reader) error {
		for range r.rng.IntN(3) {
			k := r.key()
			r.log("  get %q", k)
			checkGet(r.t, rd, r.m, k)
		}
		r.iterate(rd, r.m)
		return nil
	})
	if err != nil {
		r.t.Fatalf("View: %v", err)
	}
}

// iterate opens an iterator with random bounds and direction on rd and
// replays random positioning calls on it and on the model.
func (r *randomRun) iterate(rd kv.Reader, m *model) {
	t := r.t
	opts, inverted := r.iterOptions()
	var ops strings.Builder
	defer func() { r.log("  iter %s: %s", fmtOpts(opts), ops.String()) }()
	it, err := rd.NewIter(t.Context(), opts)
	if inverted {
		if err == nil {
			it.Close()
		}
		wantErr(t, "NewIter with LowerBound > UpperBound", err, kv.ErrInvalid)
		return
	}
	if err != nil {
		t.Fatalf("NewIter(%s): %v", fmtOpts(opts), err)
	}
	defer it.Close()
	mi := m.iter(opts)
	positioned := false
	for range 1 + r.rng.IntN(12) {
		ok, done := r.position(it, mi, opts, positioned, &ops)
		if done {
			return
		}
		positioned = true
		want, wantOK := mi.cur()
		fmt.Fprintf(&ops, "→%q; ", want.key)
		if ok != wantOK || it.Valid() != wantOK {
			t.Fatalf("iterator %s: %s returned %v (Valid %v), want %v (error %v)",
				fmtOpts(opts), ops.String(), ok, it.Valid(), wantOK, it.Error())
		}
		if ok && (string(it.Key()) != want.key || string(it.Value()) != want.value) {
			t.Fatalf("iterator %s: %s at %q=%q, want %q=%q",
				fmtOpts(opts), ops.String(), it.Key(), it.Value(), want.key, want.value)
		}
	}
	if err := it.Close(); err != nil {
		t.Fatalf("iterator Close: %v", err)
	}
}

// iterOptions returns random iterator options, and whether their bounds are
// inverted (which NewIter must refuse).
func (r *randomRun) iterOptions() (opts kv.IterOptions, inverted bool) {
	opts = kv.IterOptions{LowerBound: r.bound(), UpperBound: r.bound(), Reverse: r.rng.IntN(2) == 0}
	inverted = len(opts.LowerBound) > 0 && len(opts.UpperBound) > 0 &&
		bytes.Compare(opts.LowerBound, opts.UpperBound) > 0
	if inverted && r.rng.IntN(4) != 0 {
		opts.LowerBound, opts.UpperBound = opts.UpperBound, opts.LowerBound
		inverted = false
	}
	return opts, inverted
}

// position makes one random positioning call on it and the same on mi. A
// fresh iterator gets First or a seek, never Next, whose result the contract
// leaves open there. done reports a wrong-direction seek, after which the
// iterator is finished.
func (r *randomRun) position(it kv.Iterator, mi *modelIter, opts kv.IterOptions, positioned bool, ops *strings.Builder) (ok, done bool) {
	switch w := r.rng.IntN(100); {
	case w < 25 || (w < 70 && !positioned):
		ops.WriteString("first")
		mi.first()
		return it.First(), false
	case w < 70:
		ops.WriteString("next")
		mi.next()
		return it.Next(), false
	case w < 97:
		k := r.bound()
		if opts.Reverse {
			fmt.Fprintf(ops, "seek-lt %s", fmtBound(k))
			mi.seekLT(k)
			return it.SeekLT(k), false
		}
		fmt.Fprintf(ops, "seek-ge %s", fmtBound(k))
		mi.seekGE(k)
		return it.SeekGE(k), false
	}
	ops.WriteString("wrong-direction seek")
	if opts.Reverse {
		ok = it.SeekGE(r.key())
	} else {
		ok = it.SeekLT(r.key())
	}
	if ok {
		r.t.Fatalf("wrong-direction seek on %s positioned the iterator", fmtOpts(opts))
	}
	wantErr(r.t, "wrong-direction seek", it.Error(), kv.ErrInvalid)
	wantErr(r.t, "Close after wrong-direction seek", it.Close(), kv.ErrInvalid)
	return false, true
}
