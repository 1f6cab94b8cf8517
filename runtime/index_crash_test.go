package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestIndexCrash simulates a crash during indexed writes: writers run
// random writes of every kind (the index model's) on a synced Pebble DB
// while the test copies the directory with plain file copies, as a crash
// freezes it. Reopened, the copy's index entries must be exactly those of
// its rows: every write landed with its index changes or not at all.
func TestIndexCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for round := range 3 {
		dir := t.TempDir()
		s, err := pebblekv.Open(dir, pebblekv.WithCacheSize(8<<20))
		if err != nil {
			t.Fatal(err)
		}
		db, err := runtime.Open(ctx, s, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
		if err != nil {
			t.Fatal(err)
		}
		acc, err := testpb.NewAccountTable(db)
		if err != nil {
			t.Fatal(err)
		}
		var halt atomic.Bool
		var done atomic.Int64
		reached := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := &ixModel{t: t, rng: rand.New(rand.NewPCG(uint64(round), uint64(w))), db: db, acc: acc, sch: acc.Table().Schema()}
				for !halt.Load() {
					err := m.op().do(ctx, acc)
					if err != nil && !errors.Is(err, runtime.ErrUniqueViolation) && !errors.Is(err, kv.ErrConflict) {
						t.Errorf("writer %d: %v", w, err)
						return
					}
					if done.Add(1) == 200 {
						close(reached)
					}
				}
			}()
		}
		select {
		case <-reached:
		case <-time.After(5 * time.Minute):
			t.Fatal("the writers did not make 200 writes in 5 minutes")
		}
		crashed := filepath.Join(t.TempDir(), "crashed")
		if err := copyTree(dir, crashed); err != nil {
			t.Fatalf("copying the live directory: %v", err)
		}
		halt.Store(true)
		wg.Wait()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkIndexInStep(t, crashed)
	}
}

// checkIndexInStep reopens dir and compares its index entries with those
// computed from its rows.
func checkIndexInStep(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	s, err := pebblekv.Open(dir, pebblekv.WithCacheSize(8<<20))
	if err != nil {
		t.Fatalf("reopening the crashed copy: %v", err)
	}
	defer s.Close()
	db, err := runtime.Open(ctx, s, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := testpb.NewAccountTable(db)
	m := &ixModel{t: t, db: db, acc: acc, sch: acc.Table().Schema()}
	exists := func(key []byte) bool {
		_, err := s.Get(ctx, key)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	st := ixState{}
	tasks := m.sch.Root.Field(9)
	items := m.sch.Root.Field(10).Child.Field(2)
	for a, err := range acc.Scan(ctx, testpb.AccountKeys(), runtime.ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		rk := m.sch.RowKeyOf(db.Namespace(), a.ProtoReflect())
		r := &ixRow{msg: a, own: exists(rk), taskOwn: map[string]bool{}, itemOwn: map[uint64]bool{}}
		for k := range a.Tasks {
			r.taskOwn[k] = exists(tasks.Key.Append(bytes.Clone(rk), protoreflect.ValueOfString(k)))
		}
		owner := tuple.AppendUnit(bytes.Clone(rk), 10)
		for k := range a.GetDrawer().GetItems() {
			r.itemOwn[k] = exists(items.Key.Append(bytes.Clone(owner), protoreflect.ValueOfUint64(k)))
		}
		st[testpb.AccountKey{Org: a.Org, AccountId: a.AccountId}] = r
	}
	want, collide := m.expected(st)
	if collide {
		t.Errorf("the recovered rows break a unique index")
	}
	if got := m.stored(ctx); !maps.Equal(got, want) {
		t.Errorf("after the crash: %d index entries stored, %d computed from the rows; they differ", len(got), len(want))
	}
	t.Logf("recovered %d rows, %d index entries in step", len(st), len(want))
}

// copyTree copies src to dst with plain reads and writes, tolerating files
// that disappear meanwhile (a crash's frozen directory).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		in, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
