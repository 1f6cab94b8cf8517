package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	testpb "github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// copySource is a store with many users in the default namespace and one
// in namespace "t1".
func copySource(t *testing.T, users int) kv.Store {
	t.Helper()
	ctx := context.Background()
	src := memkv.New()
	db := openDB(t, src)
	tbl := table(t, db, "User")
	for i := range users {
		ref, _ := tbl.Row(str(fmt.Sprintf("u%04d", i)))
		u := &testpb.User{UserId: fmt.Sprintf("u%04d", i), Registered: uint64(i), Counters: map[string]int64{"a": 1, "b": int64(i)}}
		if err := db.Put(ctx, ref, u); err != nil {
			t.Fatal(err)
		}
	}
	verifyFixture(t, src, runtime.WithNamespace("t1"))
	return src
}

func dbDigests(t *testing.T, s kv.Store, opts ...runtime.Option) []string {
	t.Helper()
	db, err := runtime.Open(context.Background(), s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r := verify(t, db, runtime.VerifyOptions{})
	if !r.OK() {
		t.Fatalf("verify: %v", r.Problems)
	}
	return digestLines(r)
}

func TestCopyWholeStore(t *testing.T) {
	ctx := context.Background()
	src, dst := copySource(t, 300), openPebble(t)
	r, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{BatchPairs: 64, AllNamespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Resumed || r.Written != r.Pairs || r.Source != r.Target {
		t.Fatalf("report %+v", r)
	}
	for _, opts := range [][]runtime.Option{nil, {runtime.WithNamespace("t1")}} {
		if got, want := dbDigests(t, dst, opts...), dbDigests(t, src, opts...); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("namespace %v: target digests\n%v\nwant\n%v", opts, got, want)
		}
	}
	if _, err := dst.Get(ctx, []byte("\x00protoql.copy.resume")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("resume marker left after a complete copy: %v", err)
	}
	if _, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{AllNamespaces: true}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("copy into a non-empty target: %v, want ErrInvalid", err)
	}
}

// TestCopyNamespaces copies one namespace alone, then moves the default
// namespace into a namespace of the target and back out: the databases'
// digests stay the same wherever they sit.
func TestCopyNamespaces(t *testing.T) {
	ctx := context.Background()
	src, dst := copySource(t, 10), memkv.New()
	t1, t2 := "t1", "t2"
	if _, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{From: &t1, To: &t1}); err != nil {
		t.Fatal(err)
	}
	if got, want := dbDigests(t, dst, runtime.WithNamespace(t1)), dbDigests(t, src, runtime.WithNamespace(t1)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("t1: target digests\n%v\nwant\n%v", got, want)
	}
	if _, err := runtime.Open(ctx, dst); err == nil {
		t.Error("the default namespace was copied too")
	}
	r, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{To: &t2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dbDigests(t, dst, runtime.WithNamespace(t2)), dbDigests(t, src); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("default → t2: target digests\n%v\nwant\n%v", got, want)
	}
	srcDB, err := runtime.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if v := verify(t, srcDB, runtime.VerifyOptions{}); v.Total() != r.Source {
		t.Errorf("copy's digest %s is not verify's total %s", r.Source, v.Total())
	}
	back := memkv.New()
	r2, err := runtime.Copy(ctx, dst, back, runtime.CopyOptions{From: &t2})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Source != r.Source || fmt.Sprint(dbDigests(t, back)) != fmt.Sprint(dbDigests(t, src)) {
		t.Errorf("t2 → default: digests differ")
	}
	if _, err := runtime.Copy(ctx, src, memkv.New(), runtime.CopyOptions{AllNamespaces: true, To: &t2}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("AllNamespaces with To: %v, want ErrInvalid", err)
	}
}

// interrupt copies until the third batch is written, then cancels.
func interrupt(t *testing.T, src, dst kv.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	_, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{BatchPairs: 50, Progress: func(runtime.CopyProgress) {
		if batches++; batches == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: %v, want context.Canceled", err)
	}
}

func TestCopyResumes(t *testing.T) {
	ctx := context.Background()
	src, dst := copySource(t, 300), memkv.New()
	interrupt(t, src, dst)
	r, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{BatchPairs: 50})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Resumed || r.Written != r.Pairs-150 {
		t.Fatalf("resumed copy wrote %d of %d pairs (resumed %v), want all but the 150 of three batches", r.Written, r.Pairs, r.Resumed)
	}
	if got, want := dbDigests(t, dst), dbDigests(t, src); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("target digests\n%v\nwant\n%v", got, want)
	}
}

// TestCopyCatchesChangedTarget changes a pair the interrupted copy already
// wrote: the resumed copy must fail on the digests.
func TestCopyCatchesChangedTarget(t *testing.T) {
	ctx := context.Background()
	src, dst := copySource(t, 300), memkv.New()
	interrupt(t, src, dst)
	k, v := findKey(t, dst, func(k []byte) bool { return len(k) > 0 && k[0] != 0 })
	set(t, dst, k, append(v, 0x08, 0x01)) // field 1 = 1: a different but valid value
	_, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{BatchPairs: 50})
	if !errors.Is(err, runtime.ErrCopyMismatch) {
		t.Fatalf("copy over a changed target: %v, want ErrCopyMismatch", err)
	}
}
