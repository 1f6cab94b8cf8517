package tikvkv_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/tikv/client-go/v2/testutils"
	"github.com/tikv/client-go/v2/tikv"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/tikvkv"
)

// splitKeys cut the mock cluster into regions so that kvtest's scans cross
// region boundaries: between its edge keys ("\x00…", "a…", "b", "\xff…"),
// inside the 5000-key range of ScanManyKeys ("k\x00" + uint32) and among the
// random sequence's alphabet (0x00 0x01 'a' 0xFE 0xFF).
var splitKeys = [][]byte{
	{0x00, 0x00},
	{0x01},
	[]byte("a"),
	[]byte("a\x00\x00"),
	[]byte("ab"),
	[]byte("k\x00\x00\x00\x05\x00"),
	[]byte("k\x00\x00\x00\x0a\x00"),
	[]byte("k\x00\x00\x00\x0f\x00"),
	{0xFE},
	{0xFF},
	{0xFF, 0x00},
}

// newMockKVStore starts client-go's in-process mock cluster (mocktikv: a
// mock PD, one TiKV store and an in-memory MVCC engine) with one region per
// range between splitKeys, and returns a KVStore on it, closed when the test
// ends.
func newMockKVStore(t testing.TB, splitKeys [][]byte) (*tikv.KVStore, *testutils.MockCluster) {
	t.Helper()
	client, cluster, pdClient, err := testutils.NewMockTiKV("", nil)
	if err != nil {
		t.Fatalf("NewMockTiKV: %v", err)
	}
	testutils.BootstrapWithMultiRegions(cluster, splitKeys...)
	kvs, err := tikv.NewTestTiKVStore(client, pdClient, keepOpen, nil, 0)
	if err != nil {
		t.Fatalf("NewTestTiKVStore: %v", err)
	}
	t.Cleanup(func() {
		if err := kvs.Close(); err != nil {
			t.Errorf("KVStore.Close: %v", err)
		}
	})
	return kvs, cluster
}

// keepOpen leaves the mock cluster's in-memory engine open when the KVStore
// closes (the garbage collector reclaims it): client-go resolves some locks
// in goroutines that KVStore.Close does not wait for, and one of those
// running after Close makes the mock's closed leveldb panic. Against a real
// cluster such a goroutine just gets an RPC error.
func keepOpen(c tikv.Client) tikv.Client { return openClient{c} }

type openClient struct{ tikv.Client }

func (openClient) Close() error { return nil }

func newStore(t testing.TB, kvs *tikv.KVStore, opts ...tikvkv.Option) *tikvkv.Store {
	t.Helper()
	s, err := tikvkv.New(kvs, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openMock returns a Store on a fresh multi-region mock cluster.
func openMock(t testing.TB, opts ...tikvkv.Option) *tikvkv.Store {
	t.Helper()
	kvs, _ := newMockKVStore(t, splitKeys)
	return newStore(t, kvs, opts...)
}

// TestConformance runs the shared suite, each subtest on its own mock
// cluster split at splitKeys, with no key prefix: scans start and end at the
// edges of TiKV's keyspace. Scans are snapshot isolation here (see the
// package doc), so the phantom cases check that the anomaly happens.
func TestConformance(t *testing.T) {
	t.Parallel()
	kvtest.RunOptions(t, func(t *testing.T) kv.Store {
		kvs, _ := newMockKVStore(t, splitKeys)
		s, err := tikvkv.New(kvs)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	}, kvtest.Options{PhantomsUndetected: true})
}

// TestConformancePrefixed runs the suite again with every store in its own
// namespace of one shared cluster, whose regions split each namespace. The
// prefixes end in 0xFF, so their upper bound carries into the byte before.
// The random sequence, by far the slowest part, runs only in
// TestConformance.
func TestConformancePrefixed(t *testing.T) {
	t.Parallel()
	const namespaces = 64
	prefix := func(i int) []byte { return []byte{'p', byte(i), 0xFF} }
	var splits [][]byte
	for i := range namespaces {
		for _, k := range []string{"", "a", "a\x00\x00", "k\x00\x00\x00\x0a\x00", "\xff"} {
			splits = append(splits, append(prefix(i), k...))
		}
	}
	kvs, _ := newMockKVStore(t, splits)
	var mu sync.Mutex
	next := 0
	kvtest.RunOptions(t, func(t *testing.T) kv.Store {
		if strings.HasSuffix(t.Name(), "/Random") {
			t.Skip("the random sequence runs in TestConformance")
		}
		mu.Lock()
		i := next
		next++
		mu.Unlock()
		if i >= namespaces {
			t.Fatalf("more than %d kvtest subtests: raise namespaces", namespaces)
		}
		s, err := tikvkv.New(kvs, tikvkv.WithPrefix(prefix(i)))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	}, kvtest.Options{PhantomsUndetected: true})
}

// TestRegionsSplit checks that the mock cluster really has several regions
// and that one scan of the store returns keys from all of them.
func TestRegionsSplit(t *testing.T) {
	t.Parallel()
	kvs, cluster := newMockKVStore(t, splitKeys)
	if got, want := len(cluster.GetAllRegions()), len(splitKeys)+1; got != want {
		t.Fatalf("mock cluster has %d regions, want %d", got, want)
	}
	s := newStore(t, kvs)
	// One key just before and one at every split key, plus the extremes.
	var b kv.Batch
	keys := map[string]bool{"\x00": true, "\xff\xff": true}
	for _, k := range splitKeys {
		keys[string(k)], keys[string(k)+"\x00"] = true, true
	}
	for k := range keys {
		_ = b.Set([]byte(k), []byte("v"))
	}
	if err := s.Apply(t.Context(), &b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, reverse := range []bool{false, true} {
		it, err := s.NewIter(t.Context(), kv.IterOptions{Reverse: reverse})
		if err != nil {
			t.Fatalf("NewIter: %v", err)
		}
		regions := map[uint64]bool{}
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			loc, err := kvs.GetRegionCache().LocateKey(tikv.NewBackofferWithVars(t.Context(), 1000, nil), it.Key())
			if err != nil {
				t.Fatalf("LocateKey(%q): %v", it.Key(), err)
			}
			regions[loc.Region.GetID()] = true
			n++
		}
		if err := it.Close(); err != nil {
			t.Fatalf("iterator: %v", err)
		}
		if n != len(keys) || len(regions) != len(splitKeys)+1 {
			t.Errorf("reverse=%v scan: %d keys from %d regions, want %d keys from %d regions",
				reverse, n, len(regions), len(keys), len(splitKeys)+1)
		}
	}
}

func mustSet(t *testing.T, s kv.Store, key, value string) {
	t.Helper()
	var b kv.Batch
	_ = b.Set([]byte(key), []byte(value))
	if err := s.Apply(t.Context(), &b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustGet(t *testing.T, r kv.Reader, key, want string) {
	t.Helper()
	got, err := r.Get(t.Context(), []byte(key))
	if err != nil || string(got) != want {
		t.Errorf("Get(%q) = %q, %v; want %q", key, got, err, want)
	}
}
