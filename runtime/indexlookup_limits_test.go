package runtime_test

import (
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/kvcount"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// TestIndexQueryReadAheadFollowsLimits: a query through an index under a
// small key or byte limit makes the store read little more than the limit
// allows. The batched lookup reads up to query.IndexLookupBatch entries
// ahead (under 60 bytes each here); the objects they name are copied only
// while the limits leave room, then read live up to where the limit cuts.
// Copying a whole batch's objects read 518 keys, 10.4 KiB.
func TestIndexQueryReadAheadFollowsLimits(t *testing.T) {
	t.Parallel()
	store := kvcount.New(memkv.New())
	db, _ := lookupAccounts(t, store, 200)
	q := query.MustCompile(db.Catalog(), `Account.by_age[30]`)
	for _, c := range []struct {
		lim          query.Limits
		keys, nbytes int // at most read from the store
	}{
		{query.Limits{MaxKeys: 12}, query.IndexLookupBatch + 3*12, 1 << 30},
		{query.Limits{MaxBytes: 600}, 1 << 30, query.IndexLookupBatch*60 + 600 + 400},
	} {
		store.Reset()
		_, err := querytest.Collect(t, db, q, nil, runtime.WithLimits(c.lim))
		var le *runtime.LimitError
		if !errors.As(err, &le) {
			t.Fatalf("limit %+v: error %v, want a LimitError", c.lim, err)
		}
		n := store.Counts()
		if n.KeysRead > c.keys || n.BytesRead > c.nbytes {
			t.Errorf("limit %+v: the store read %d keys, %d bytes; want at most %d keys, %d bytes", c.lim, n.KeysRead, n.BytesRead, c.keys, c.nbytes)
		}
	}
}
