package pebblekv

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/internal/occ"
)

// groupWriter is a writer on a fresh in-memory Pebble database, for calling
// applyGroup directly: the stores' commit-order tests seldom form groups of
// more than one commit, so the order inside a group is checked here.
func groupWriter(t *testing.T) *writer {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: errorLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	w := &writer{}
	w.init(db, nil, false, false, time.Minute)
	return w
}

// item is one commit of a group as apply builds it: a prebuilt batch, or,
// with a DeleteRange, the operations for applyGroup to build.
func (w *writer) item(t *testing.T, ops ...kv.Op) occ.Item {
	t.Helper()
	size := 0
	for _, op := range ops {
		size += len(op.Key) + len(op.Value) + 16
	}
	it := &commitItem{ops: ops, size: size}
	if !hasDeleteRange(ops) {
		it.b = w.db.NewBatchWithSize(size)
		t.Cleanup(func() { _ = it.b.Close() })
		if err := addOps(it.b, nil, ops, w.wholeKeyPrefix); err != nil {
			t.Fatal(err)
		}
	}
	return it
}

func set(k, v string) kv.Op {
	return kv.Op{Kind: kv.OpSet, Key: []byte(k), Value: []byte(v)}
}

func delRange(start, end string) kv.Op {
	return kv.Op{Kind: kv.OpDeleteRange, Key: []byte(start), Value: []byte(end)}
}

// value returns k's committed value, or "" with found false.
func value(t *testing.T, db *pebble.DB, k string) (string, bool) {
	t.Helper()
	v, closer, err := db.Get([]byte(k))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return string(v), true
}

// TestApplyGroupOrder checks that applyGroup applies a group's commits in
// their order, as if committed one after the other: a later commit's write
// wins over an earlier one's, and a DeleteRange sees (and deletes) the
// writes of the commits before it in the group, whether it deletes point by
// point or writes a range tombstone.
func TestApplyGroupOrder(t *testing.T) {
	t.Run("SetDeleteRangeSet", func(t *testing.T) {
		w := groupWriter(t)
		if err := w.applyGroup([]occ.Item{
			w.item(t, set("k", "1")),
			w.item(t, delRange("a", "z")),
			w.item(t, set("k", "2")),
		}); err != nil {
			t.Fatal(err)
		}
		if v, ok := value(t, w.db, "k"); !ok || v != "2" {
			t.Fatalf("k = %q (found %v), want 2: the group's last Set after its DeleteRange", v, ok)
		}
	})
	t.Run("SetThenRangeTombstone", func(t *testing.T) {
		w := groupWriter(t)
		// More than pointDeleteLimit keys in the range, committed before
		// the group, so that the DeleteRange writes a range tombstone.
		var pre []kv.Op
		for i := range pointDeleteLimit + 10 {
			pre = append(pre, set(fmt.Sprintf("r%03d", i), "old"))
		}
		if err := w.applyGroup([]occ.Item{w.item(t, pre...)}); err != nil {
			t.Fatal(err)
		}
		if err := w.applyGroup([]occ.Item{
			w.item(t, set("r500", "new"), set("s", "outside")),
			w.item(t, delRange("r", "s")),
		}); err != nil {
			t.Fatal(err)
		}
		if v, ok := value(t, w.db, "r500"); ok {
			t.Fatalf("r500 = %q after a later DeleteRange over it in the same group, want deleted", v)
		}
		if v, ok := value(t, w.db, "r000"); ok {
			t.Fatalf("r000 = %q after DeleteRange, want deleted", v)
		}
		if v, ok := value(t, w.db, "s"); !ok || v != "outside" {
			t.Fatalf("s = %q (found %v), want outside: past the range's end", v, ok)
		}
	})
	t.Run("RangeFirstReadsDatabase", func(t *testing.T) {
		// No Set of the group precedes its DeleteRanges: they read the
		// keys from the database, without an indexed batch. Both ways of
		// deleting (point deletes, a tombstone) and keys deleted twice.
		for _, n := range []int{3, pointDeleteLimit + 10} {
			w := groupWriter(t)
			var pre []kv.Op
			for i := range n {
				pre = append(pre, set(fmt.Sprintf("r%03d", i), "old"))
			}
			if err := w.applyGroup([]occ.Item{w.item(t, pre...)}); err != nil {
				t.Fatal(err)
			}
			if needsIndex([]occ.Item{w.item(t, delRange("r", "s"), set("r001", "new"))}) {
				t.Fatal("needsIndex of a DeleteRange before the group's only Set = true")
			}
			if err := w.applyGroup([]occ.Item{
				w.item(t, delRange("r", "s"), delRange("r000", "r002"), set("r001", "new")),
				w.item(t, delRange("r002", "r003")),
			}); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				k := fmt.Sprintf("r%03d", i)
				v, ok := value(t, w.db, k)
				if want := k == "r001"; ok != want || (ok && v != "new") {
					t.Fatalf("%d keys: %s = %q (found %v) after the group", n, k, v, ok)
				}
			}
		}
	})
	t.Run("SetThenRangeInOneCommit", func(t *testing.T) {
		w := groupWriter(t)
		if err := w.applyGroup([]occ.Item{w.item(t, set("m", "1"), delRange("a", "z"), set("n", "2"))}); err != nil {
			t.Fatal(err)
		}
		if v, ok := value(t, w.db, "m"); ok {
			t.Fatalf("m = %q, set before a DeleteRange over it in the same commit, want deleted", v)
		}
		if v, ok := value(t, w.db, "n"); !ok || v != "2" {
			t.Fatalf("n = %q (found %v), want 2", v, ok)
		}
	})
	t.Run("BlindSets", func(t *testing.T) {
		w := groupWriter(t)
		if err := w.applyGroup([]occ.Item{
			w.item(t, set("k", "first"), set("other", "x")),
			w.item(t, set("k", "second")),
		}); err != nil {
			t.Fatal(err)
		}
		if v, ok := value(t, w.db, "k"); !ok || v != "second" {
			t.Fatalf("k = %q (found %v), want second: the group's later Set", v, ok)
		}
		if v, ok := value(t, w.db, "other"); !ok || v != "x" {
			t.Fatalf("other = %q (found %v), want x", v, ok)
		}
	})
}
