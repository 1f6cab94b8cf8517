package kvtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"weak"

	"github.com/protoql/protoql/kv"
)

// testTxnOwnership checks that a transaction copies the caller's buffers.
func testTxnOwnership(t *testing.T, s kv.Store) {
	key, val := []byte("key\x00"), []byte("value\xff")
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		if err := tx.Set(key, val); err != nil {
			return err
		}
		key[0], val[0] = 'X', 'X'
		got, err := tx.Get(t.Context(), []byte("key\x00"))
		if err != nil || string(got) != "value\xff" {
			t.Errorf("Get in txn after caller reused buffers = %q, %v; want %q", got, err, "value\xff")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	key[1], val[1] = 'X', 'X'
	m := newModel()
	m.set([]byte("key\x00"), []byte("value\xff"))
	checkAll(t, s, m, [][]byte{[]byte("key\x00"), []byte("Xey\x00"), []byte("XXy\x00")})
}

// testGetOwnership checks that a value returned by Get belongs to the caller.
func testGetOwnership(t *testing.T, s kv.Store) {
	mustSet(t, s, []byte("k"), []byte("value"))
	readers(t, s, func(t *testing.T, r kv.Reader) {
		v, err := r.Get(t.Context(), []byte("k"))
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		for i := range v {
			v[i] = 'X'
		}
		_ = append(v[:0], "overwritten beyond the value's length"...)
		v2, err := r.Get(t.Context(), []byte("k"))
		if err != nil || string(v2) != "value" {
			t.Errorf("Get after the caller changed the previous result = %q, %v; want %q", v2, err, "value")
		}
	})
}

// txnOp is one write inside a transaction, applied to the engine and to the
// model.
type txnOp struct {
	kind       kv.OpKind
	key, value []byte
}

func (op txnOp) apply(tx kv.Txn, m *model) error {
	switch op.kind {
	case kv.OpSet:
		m.set(op.key, op.value)
		return tx.Set(op.key, op.value)
	case kv.OpDelete:
		m.delete(op.key)
		return tx.Delete(op.key)
	default:
		m.deleteRange(op.key, op.value)
		return tx.DeleteRange(op.key, op.value)
	}
}

func testUpdateReadsOwnWrites(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	ops := []txnOp{
		{kv.OpSet, []byte("new"), []byte("n")},
		{kv.OpSet, []byte("a"), []byte("overwritten")},
		{kv.OpDelete, []byte("a\x00"), nil},
		{kv.OpDeleteRange, []byte("a\x01"), []byte("b")},
		{kv.OpSet, []byte("a\x01\x00"), []byte("set inside the deleted range")},
		{kv.OpDeleteRange, []byte{0xFF}, []byte{0xFF, 0x00, 0x00}},
		{kv.OpSet, []byte{0xFF, 0x00}, []byte("reset")},
		{kv.OpSet, []byte{0x00, 0x00, 0x00}, nil},
	}
	probes := append([][]byte{[]byte("new"), []byte("a\x01\x00"), {0x00, 0x00, 0x00}}, edgeKeys...)
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		for i, op := range ops {
			if err := op.apply(tx, m); err != nil {
				return err
			}
			// After every write, every read agrees with the model.
			for _, k := range probes {
				checkGet(t, tx, m, k)
			}
			for j := range 4 {
				bc := boundCases[(i*4+j)%len(boundCases)]
				for _, reverse := range []bool{false, true} {
					checkScan(t, tx, m, kv.IterOptions{LowerBound: bc.lower, UpperBound: bc.upper, Reverse: reverse})
				}
			}
			checkAll(t, tx, m, nil)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkAll(t, s, m, probes)
}

func testUpdateError(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	errStop := errors.New("kvtest: stop")
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		_ = tx.Set([]byte("new"), []byte("n"))
		_ = tx.Set([]byte("a"), []byte("overwritten"))
		_ = tx.Delete([]byte("b"))
		_ = tx.DeleteRange([]byte{0x00}, []byte{0x01})
		return errStop
	})
	if err != errStop {
		t.Errorf("Update = %v, want fn's error unchanged (%v)", err, errStop)
	}
	checkAll(t, s, m, [][]byte{[]byte("new"), []byte("a"), []byte("b"), {0x00}})
}

// testUpdatePanic checks that a panicking fn commits nothing, that the panic
// reaches the caller, and that the store stays usable (no lock left held).
func testUpdatePanic(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys[:2])
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Update swallowed fn's panic")
			}
		}()
		_ = s.Update(t.Context(), func(tx kv.Txn) error {
			_ = tx.Set([]byte("new"), []byte("n"))
			_ = tx.Delete(edgeKeys[0])
			panic("kvtest: boom")
		})
	}()
	checkAll(t, s, m, [][]byte{[]byte("new"), edgeKeys[0]})
	mustSet(t, s, []byte("after"), []byte("1"))
	m.set([]byte("after"), []byte("1"))
	if err := s.Update(t.Context(), func(tx kv.Txn) error { return tx.Set([]byte("after2"), nil) }); err != nil {
		t.Fatalf("Update after a panic: %v", err)
	}
	m.set([]byte("after2"), nil)
	checkAll(t, s, m, nil)
}

// testViewError checks View's error contract (kv.Store.View): fn's error
// comes back unchanged, and a fn that returns nil makes View return nil,
// with or without an iterator left open (positioned or exhausted), which
// ending the view closes; the store stays usable after each.
func testViewError(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	errStop := errors.New("kvtest: stop")
	leave := []struct {
		name string
		fn   func(r kv.Reader) error
	}{
		{"nothing", func(kv.Reader) error { return nil }},
		{"a positioned iterator", func(r kv.Reader) error {
			it, err := r.NewIter(t.Context(), kv.IterOptions{})
			if err != nil {
				return err
			}
			if !it.First() {
				return fmt.Errorf("first on a filled store: false (%v)", it.Error())
			}
			return nil
		}},
		{"an exhausted iterator", func(r kv.Reader) error {
			it, err := r.NewIter(t.Context(), kv.IterOptions{Reverse: true})
			if err != nil {
				return err
			}
			for ok := it.First(); ok; ok = it.Next() {
			}
			return it.Error()
		}},
	}
	for _, l := range leave {
		if err := s.View(t.Context(), func(r kv.Reader) error {
			if err := l.fn(r); err != nil {
				t.Errorf("View leaving %s: %v", l.name, err)
			}
			return errStop
		}); err != errStop {
			t.Errorf("View leaving %s, fn failed = %v, want fn's error unchanged (%v)", l.name, err, errStop)
		}
		if err := s.View(t.Context(), l.fn); err != nil {
			t.Errorf("View leaving %s, fn returned nil = %v, want nil", l.name, err)
		}
	}
	checkAll(t, s, m, nil)
}

// testViewSnapshot writes from inside View and checks that the snapshot does
// not see it.
func testViewSnapshot(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	before := m.clone()
	err := s.View(t.Context(), func(r kv.Reader) error {
		checkAll(t, r, before, edgeKeys)
		var b kv.Batch
		_ = b.Set([]byte("new"), []byte("n"))
		_ = b.Set([]byte("a"), []byte("overwritten"))
		_ = b.Delete([]byte("b"))
		_ = b.DeleteRange([]byte{0xFF}, []byte{0xFF, 0xFF})
		_ = b.DeleteRange([]byte{0x00}, []byte{0x01})
		if err := s.Apply(t.Context(), &b); err != nil {
			return err
		}
		m.apply(b.Ops())
		if err := s.Update(t.Context(), func(tx kv.Txn) error { return tx.Set([]byte("new2"), nil) }); err != nil {
			return err
		}
		m.set([]byte("new2"), nil)
		// The store moved on; the snapshot did not.
		checkAll(t, s, m, nil)
		checkAll(t, r, before, [][]byte{[]byte("new"), []byte("new2"), []byte("a"), []byte("b"), {0x00}})
		for _, bc := range boundCases {
			checkScan(t, r, before, kv.IterOptions{LowerBound: bc.lower, UpperBound: bc.upper})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// testLostUpdate increments one counter from many goroutines: with
// snapshot isolation and write-write conflict detection (or a single
// writer), no increment is lost.
func testLostUpdate(t *testing.T, s kv.Store) {
	const goroutines, increments = 8, 50
	key := []byte("counter\x00\xff")
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range increments {
				err := s.Update(t.Context(), func(tx kv.Txn) error {
					var n uint64
					v, err := tx.Get(t.Context(), key)
					switch {
					case err == nil:
						n = binary.BigEndian.Uint64(v)
					case !errors.Is(err, kv.ErrNotFound):
						return err
					}
					runtime.Gosched() // widen the read-modify-write window
					return tx.Set(key, binary.BigEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	v, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got := binary.BigEndian.Uint64(v); got != goroutines*increments {
		t.Errorf("counter = %d, want %d", got, goroutines*increments)
	}
}

// testUpdateVsApply keeps the invariant A == B: Updates copy A into B while
// Applies blindly set both to a new value. An Apply landing between an
// Update's read of A and its commit would break it, unless the engine
// serializes them or detects the write-write conflict on B.
func testUpdateVsApply(t *testing.T, s kv.Store) {
	const rounds = 100
	a, b := []byte("inv\x00a"), []byte("inv\x00b")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range rounds {
				if g%2 == 0 {
					var batch kv.Batch
					v := binary.BigEndian.AppendUint64(nil, uint64(g*rounds+i+1))
					_ = batch.Set(a, v)
					_ = batch.Set(b, v)
					if err := s.Apply(t.Context(), &batch); err != nil {
						t.Errorf("Apply: %v", err)
						return
					}
					continue
				}
				err := s.Update(t.Context(), func(tx kv.Txn) error {
					v, err := tx.Get(t.Context(), a)
					if errors.Is(err, kv.ErrNotFound) {
						return nil
					} else if err != nil {
						return err
					}
					runtime.Gosched() // widen the window
					return tx.Set(b, v)
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	va, errA := s.Get(t.Context(), a)
	vb, errB := s.Get(t.Context(), b)
	if errA != nil || errB != nil || string(va) != string(vb) {
		t.Errorf("A = %x (%v), B = %x (%v); want equal", va, errA, vb, errB)
	}
}

// testCommitKeepsNoValue checks that a committed transaction keeps none of
// the values it wrote alive while another transaction is live: an
// optimistic engine logs the keys a commit wrote for as long as a live
// snapshot precedes it, and those keys must not keep the transaction's
// write buffer (its values) reachable. The value watched is the one a
// transaction's iterator shows of its own write, the engine's copy.
func testCommitKeepsNoValue(t *testing.T, s kv.Store) {
	ctx := t.Context()
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		once := false
		done <- s.Update(ctx, func(tx kv.Txn) error {
			if _, err := tx.Get(ctx, []byte("live")); err != nil && !errors.Is(err, kv.ErrNotFound) {
				return err
			}
			if !once { // a retry must not close started twice
				once = true
				close(started)
			}
			<-release
			return nil
		})
	}()
	defer func() {
		close(release)
		if err := <-done; err != nil {
			t.Errorf("the live transaction: %v", err)
		}
	}()
	<-started
	var watched weak.Pointer[byte]
	err := s.Update(ctx, func(tx kv.Txn) error {
		if err := tx.Set([]byte("k"), make([]byte, 4096)); err != nil {
			return err
		}
		it, err := tx.NewIter(ctx, kv.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		if !it.First() || len(it.Value()) != 4096 {
			return fmt.Errorf("the transaction's iterator does not show its write: %v", it.Error())
		}
		watched = weak.Make(&it.Value()[0])
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	runtime.GC()
	if watched.Value() != nil {
		t.Errorf("a committed transaction's value is still reachable while another transaction is live")
	}
}
