package tikvkv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

// socialSource fills a Pebble store with users of the social example, each
// with sessions, and returns it with a few of its keys spread over the
// keyspace (to split the target cluster's regions at).
func socialSource(t *testing.T, users int) (kv.Store, [][]byte) {
	t.Helper()
	ctx := context.Background()
	src, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	db, err := runtime.Open(ctx, src, runtime.WithSchema(socialpb.File_protoql_examples_social_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := socialpb.NewUserTable(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		u := &socialpb.User{UserId: fmt.Sprintf("user%03d", i), DisplayName: "U", LastSeenUs: int64(i),
			Sessions: map[string]*socialpb.Session{"a": {ExpiresUs: 1, Device: "phone"}, "b": {ExpiresUs: 2}}}
		if err := tbl.Put(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	var keys [][]byte
	it, err := src.NewIter(ctx, kv.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		keys = append(keys, append([]byte(nil), it.Key()...))
	}
	var splits [][]byte
	for i := 1; i < 6; i++ {
		splits = append(splits, keys[i*len(keys)/6])
	}
	return src, splits
}

func verifyDigests(t *testing.T, s kv.Store) string {
	t.Helper()
	db, err := runtime.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.Verify(context.Background(), runtime.VerifyOptions{})
	if err != nil || !r.OK() {
		t.Fatalf("verify: %v %v", err, r.Problems)
	}
	s2 := ""
	for _, d := range r.Digests {
		s2 += fmt.Sprintf("%s %d %s\n", d.Name, d.Pairs, d.Sum)
	}
	return s2
}

// TestCopyFromPebble copies the social example's data from pebblekv to a
// multi-region TiKV cluster: interrupted midway and resumed, the digests
// of both sides match; a pair changed on the target is caught.
func TestCopyFromPebble(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, splits := socialSource(t, 60)
	kvs, _ := newMockKVStore(t, splits)
	dst := newStore(t, kvs)

	cctx, cancel := context.WithCancel(ctx)
	batches := 0
	_, err := runtime.Copy(cctx, src, dst, runtime.CopyOptions{BatchPairs: 40, Progress: func(runtime.CopyProgress) {
		if batches++; batches == 2 {
			cancel()
		}
	}})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: %v", err)
	}
	r, err := runtime.Copy(ctx, src, dst, runtime.CopyOptions{BatchPairs: 40})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Resumed || r.Written != r.Pairs-80 {
		t.Fatalf("resumed copy wrote %d of %d (resumed %v)", r.Written, r.Pairs, r.Resumed)
	}
	if got, want := verifyDigests(t, dst), verifyDigests(t, src); got != want {
		t.Fatalf("TiKV digests\n%s\nwant\n%s", got, want)
	}
	if n := regionsHolding(t, kvs, dst); n < 3 {
		t.Errorf("the copy sits in %d regions, want several", n)
	}

	// A target changed after the copy no longer matches: a second copy
	// into it is refused, and its digest differs.
	var b kv.Batch
	b.Set(splits[2], []byte{0x08, 0x01})
	if err := dst.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if verifyDigestsLoose(t, dst) == verifyDigestsLoose(t, src) {
		t.Fatal("a changed pair on the target left the digests equal")
	}
}

// verifyDigestsLoose is verifyDigests without requiring a clean report.
func verifyDigestsLoose(t *testing.T, s kv.Store) string {
	t.Helper()
	db, err := runtime.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.Verify(context.Background(), runtime.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Total().String()
}
