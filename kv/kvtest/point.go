package kvtest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/protoql/protoql/kv"
)

// readers runs fn against the three kinds of kv.Reader: the store itself, a
// View snapshot and an Update transaction (which must see the same committed
// state when it writes nothing).
func readers(t *testing.T, s kv.Store, fn func(t *testing.T, r kv.Reader)) {
	t.Helper()
	t.Run("store", func(t *testing.T) { fn(t, s) })
	t.Run("view", func(t *testing.T) {
		if err := s.View(t.Context(), func(r kv.Reader) error { fn(t, r); return nil }); err != nil {
			t.Fatalf("View: %v", err)
		}
	})
	t.Run("update", func(t *testing.T) {
		if err := s.Update(t.Context(), func(tx kv.Txn) error { fn(t, tx); return nil }); err != nil {
			t.Fatalf("Update: %v", err)
		}
	})
}

func testPointOps(t *testing.T, s kv.Store) {
	m := newModel()
	fill(t, s, m, edgeKeys)
	mustSet(t, s, []byte("empty"), nil)
	m.set([]byte("empty"), nil)

	tests := []struct {
		name string
		key  []byte
	}{
		{"0x00", []byte{0x00}},
		{"0x00 0x00", []byte{0x00, 0x00}},
		{"prefix", []byte("a")},
		{"prefix+0x00", []byte("a\x00")},
		{"prefix+0x00 0x00", []byte("a\x00\x00")},
		{"prefix+0xFF", []byte("a\xff")},
		{"0xFF 0xFF", []byte{0xFF, 0xFF}},
		{"empty value", []byte("empty")},
		{"missing", []byte("missing")},
		{"missing extension of a key", []byte("a\x00\x00\x00")},
		{"missing prefix of a key", []byte("emp")},
		{"missing after last", []byte{0xFF, 0xFF, 0xFF}},
	}
	readers(t, s, func(t *testing.T, r kv.Reader) {
		for _, tt := range tests {
			checkGet(t, r, m, tt.key)
		}
		// An empty value is present, not missing.
		v, err := r.Get(t.Context(), []byte("empty"))
		if err != nil || len(v) != 0 {
			t.Errorf("Get(empty value) = %q, %v; want \"\", nil", v, err)
		}
	})

	// Overwrite, delete and delete a missing key, through a batch and a txn.
	var b kv.Batch
	_ = b.Set([]byte("a"), []byte("overwritten"))
	_ = b.Delete([]byte("a\x00"))
	_ = b.Delete([]byte("never-there"))
	mustApply(t, s, &b)
	m.apply(b.Ops())
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		for _, step := range []error{
			tx.Set([]byte{0xFF}, []byte("txn")),
			tx.Set([]byte("empty"), []byte{}),
			tx.Delete([]byte{0x00, 0x00}),
			tx.Delete([]byte("never-there-either")),
		} {
			if step != nil {
				return step
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	m.set([]byte{0xFF}, []byte("txn"))
	m.set([]byte("empty"), nil)
	m.delete([]byte{0x00, 0x00})
	probes := slices.Concat(edgeKeys, [][]byte{[]byte("empty"), []byte("never-there")})
	checkAll(t, s, m, probes)
}

func testEmptyKey(t *testing.T, s kv.Store) {
	keys := []struct {
		name string
		key  []byte
	}{{"nil", nil}, {"empty", []byte{}}}
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			readers(t, s, func(t *testing.T, r kv.Reader) {
				_, err := r.Get(t.Context(), k.key)
				wantErr(t, "Get("+k.name+")", err, kv.ErrInvalid)
			})
		})
		var b kv.Batch
		wantErr(t, "Batch.Set("+k.name+")", b.Set(k.key, []byte("v")), kv.ErrInvalid)
		wantErr(t, "Batch.Delete("+k.name+")", b.Delete(k.key), kv.ErrInvalid)
		err := s.Update(t.Context(), func(tx kv.Txn) error {
			wantErr(t, "Txn.Set("+k.name+")", tx.Set(k.key, []byte("v")), kv.ErrInvalid)
			wantErr(t, "Txn.Delete("+k.name+")", tx.Delete(k.key), kv.ErrInvalid)
			// A failed write does not poison the transaction.
			return tx.Set([]byte("after"), []byte("ok"))
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	m := newModel()
	m.set([]byte("after"), []byte("ok"))
	checkAll(t, s, m, nil)
}

func testLargeValue(t *testing.T, s kv.Store) {
	big := bytes.Repeat([]byte("\x00\xffprotoql"), 1<<17) // 1.1 MiB
	m := newModel()
	mustSet(t, s, []byte("big"), big)
	m.set([]byte("big"), big)
	err := s.Update(t.Context(), func(tx kv.Txn) error {
		return tx.Set([]byte("big2"), big[:len(big)/2])
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	m.set([]byte("big2"), big[:len(big)/2])
	checkAll(t, s, m, [][]byte{[]byte("big"), []byte("big2")})
}
