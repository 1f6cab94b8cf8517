package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// moveFailsPairIter is a moveFailsIter that implements kv.PairNexter, as
// Next, Key and Value: the row scan's own loop (scanOwn) moves it with
// NextPair.
type moveFailsPairIter struct {
	*moveFailsIter
	pairs *atomic.Int64 // NextPair calls
}

func (it *moveFailsPairIter) NextPair() ([]byte, []byte, bool) {
	it.pairs.Add(1)
	if !it.Next() {
		return nil, nil, false
	}
	return it.Key(), it.Value(), true
}

// TestScanOwnPairMoveFails: the forward scan of inline fields of rows
// stepped over with Next (shortRowSchema) on an iterator that offers
// kv.PairNexter reads what it reads on one that does not, and when the
// iterator fails at any one of its moves, or the context is cancelled
// after any row, it ends with the same rows and the same error (the
// iterator's, errMidRead, or the context's) on both.
func TestScanOwnPairMoveFails(t *testing.T) {
	ctx := context.Background()
	var after atomic.Int64
	var pair atomic.Bool
	var pairs atomic.Int64
	store := &kvtest.HookIters{Store: memkv.New(), Hook: func(_ kv.IterOptions, it kv.Iterator) kv.Iterator {
		mf := &moveFailsIter{Iterator: it, left: after.Load()}
		if mf.left <= 0 {
			mf.left = 1 << 62
		}
		if pair.Load() {
			return &moveFailsPairIter{moveFailsIter: mf, pairs: &pairs}
		}
		return mf
	}}
	db := openShortRows(t, store)
	rows := shortRows(db, rand.New(rand.NewPCG(3, 16)))
	querytest.Put(t, db, rows...)
	tbl := table(t, db, "Short")
	type result struct {
		rows [][]byte
		err  error
	}
	scan := func(withPair bool, stop int) (res result) {
		pair.Store(withPair)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for m, err := range db.Scan(cctx, tbl, runtime.KeyRange{}, runtime.ScanOptions{Fields: []string{"name", "count"}}) {
			if err != nil {
				res.err = err
				break
			}
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			res.rows = append(res.rows, b)
			if len(res.rows) == stop {
				cancel()
			}
		}
		return res
	}
	after.Store(0)
	whole := scan(false, -1)
	if whole.err != nil || len(whole.rows) < 10 {
		t.Fatalf("the scan without failures: %d rows, %v; want at least 10 and no error", len(whole.rows), whole.err)
	}
	pairs.Store(0)
	if got := scan(true, -1); got.err != nil || !slices.EqualFunc(got.rows, whole.rows, slices.Equal) {
		t.Fatalf("the scan with NextPair: %d rows, %v; want the %d rows of the scan without it", len(got.rows), got.err, len(whole.rows))
	}
	if pairs.Load() == 0 {
		t.Fatalf("the scan never called NextPair")
	}
	compare := func(what string, stop int) {
		t.Helper()
		want, got := scan(false, stop), scan(true, stop)
		if fmt.Sprint(got.err) != fmt.Sprint(want.err) {
			t.Fatalf("%s: error %v with NextPair, %v without", what, got.err, want.err)
		}
		if !slices.EqualFunc(got.rows, want.rows, slices.Equal) {
			t.Fatalf("%s: %d rows with NextPair, %d without", what, len(got.rows), len(want.rows))
		}
	}
	// Every move of the scan fails in turn: the first seek, each Next
	// (NextPair) and seek past a row, and the end of the range.
	for move := int64(1); ; move++ {
		after.Store(move)
		want := scan(false, -1)
		if want.err == nil {
			break // past the scan's last move
		}
		if !errors.Is(want.err, errMidRead) {
			t.Fatalf("failing at move %d: %v, want %v", move, want.err, errMidRead)
		}
		compare(fmt.Sprintf("failing at move %d", move), -1)
	}
	after.Store(0)
	for stop := range len(whole.rows) {
		want := scan(false, stop+1)
		if stop+1 < len(whole.rows) && !errors.Is(want.err, context.Canceled) {
			t.Fatalf("cancelled after %d rows: %v, want %v", stop+1, want.err, context.Canceled)
		}
		compare(fmt.Sprintf("cancelled after %d rows", stop+1), stop+1)
	}
}
