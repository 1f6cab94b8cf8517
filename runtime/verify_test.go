package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	testpb "github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
)

// verifyFixture is a DB holding two full users and its raw pairs.
func verifyFixture(t *testing.T, store kv.Store, opts ...runtime.Option) *runtime.DB {
	t.Helper()
	ctx := context.Background()
	db := openDB(t, store, opts...)
	users := table(t, db, "User")
	for _, id := range []string{"alice", "bob"} {
		ref, err := users.Row(str(id))
		if err != nil {
			t.Fatal(err)
		}
		u := fullUser(id)
		u.Created = &timestamppb.Timestamp{Seconds: 1700000000} // the same on every call
		if err := db.Put(ctx, ref, u); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func verify(t *testing.T, db *runtime.DB, opts runtime.VerifyOptions) *runtime.VerifyReport {
	t.Helper()
	r, err := db.Verify(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// findKey returns the first stored key whose symbolic rendering contains
// all of parts, with its value.
func findKey(t *testing.T, store kv.Store, match func(key []byte) bool) ([]byte, []byte) {
	t.Helper()
	it, err := store.NewIter(context.Background(), kv.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if match(it.Key()) {
			return bytes.Clone(it.Key()), bytes.Clone(it.Value())
		}
	}
	t.Fatal("no such key")
	return nil, nil
}

func set(t *testing.T, store kv.Store, key, value []byte) {
	t.Helper()
	var b kv.Batch
	b.Set(key, value)
	if err := store.Apply(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyClean(t *testing.T) {
	store := memkv.New()
	db := verifyFixture(t, store)
	r := verify(t, db, runtime.VerifyOptions{})
	if !r.OK() {
		t.Fatalf("clean DB: %d problems, first %v", r.ProblemCount, r.Problems)
	}
	var n int64
	it, _ := store.NewIter(context.Background(), kv.IterOptions{})
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	it.Close()
	if r.Pairs != n {
		t.Errorf("verified %d pairs, the store holds %d", r.Pairs, n)
	}
	var names []string
	for _, d := range r.Digests {
		names = append(names, d.Name)
	}
	if fmt.Sprint(names) != "[(metadata) protoql.test.v1.User]" {
		t.Errorf("digest groups %v", names)
	}
}

// TestVerifyFindsCorruption corrupts the DB in each way verify must catch and
// requires exactly one problem, at the corrupted key. Where the read path
// reads the key, Get must fail too: verify and reads agree.
func TestVerifyFindsCorruption(t *testing.T) {
	userKey := func(id string) []byte {
		return tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, id)
	}
	alice := userKey("alice")
	child := func(elems ...func([]byte) []byte) func(*testing.T, kv.Store) ([]byte, []byte) {
		return func(t *testing.T, s kv.Store) ([]byte, []byte) {
			k := bytes.Clone(alice)
			for _, e := range elems {
				k = e(k)
			}
			v, err := s.Get(context.Background(), k)
			if err != nil {
				t.Fatalf("fixture key %s: %v", tuple.Format(k), err)
			}
			return k, v
		}
	}
	unit := func(f uint32) func([]byte) []byte { return func(k []byte) []byte { return tuple.AppendUnit(k, f) } }
	strElem := func(f uint32, s string) func([]byte) []byte {
		return func(k []byte) []byte { return tuple.AppendString(k, f, tuple.Asc, s) }
	}
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, s kv.Store) (key []byte)
		read    bool // Get of alice reads the key
	}{
		{"flipped value byte", func(t *testing.T, s kv.Store) []byte {
			k, v := child()(t, s)
			v[0] |= 0x07 // wire type 7 does not exist
			set(t, s, k, v)
			return k
		}, true},
		{"unknown field under a row", func(t *testing.T, s kv.Store) []byte {
			k := tuple.AppendUnit(bytes.Clone(alice), 99)
			set(t, s, k, nil)
			return k
		}, true},
		{"orphan under a dropped table", func(t *testing.T, s kv.Store) []byte {
			k := tuple.AppendString(tuple.AppendUnit(nil, 77), 1, tuple.Asc, "x")
			set(t, s, k, nil)
			return k
		}, false},
		{"breakout value of the wrong type", func(t *testing.T, s kv.Store) []byte {
			k, _ := child(unit(3))(t, s)
			set(t, s, k, protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "x"))
			return k
		}, true},
		{"invalid UTF-8 in a string map value", func(t *testing.T, s kv.Store) []byte {
			k, _ := child(strElem(5, "s1"), strElem(3, "ip"))(t, s)
			set(t, s, k, protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), "\xff"))
			return k
		}, true},
		{"object value holding a field stored elsewhere", func(t *testing.T, s kv.Store) []byte {
			k, v := child(unit(4))(t, s) // password: changed_us (2) is a breakout
			set(t, s, k, protowire.AppendVarint(protowire.AppendTag(v, 2, protowire.VarintType), 1))
			return k
		}, true},
		{"index key without indexes", func(t *testing.T, s kv.Store) []byte {
			k := []byte{0x01, 0x10}
			set(t, s, k, nil)
			return k
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := memkv.New()
			db := verifyFixture(t, store)
			key := tc.corrupt(t, store)
			r := verify(t, db, runtime.VerifyOptions{})
			if r.ProblemCount != 1 || len(r.Problems) != 1 || !bytes.Equal(r.Problems[0].Key, key) {
				t.Fatalf("problems %d: %v; want one at %s", r.ProblemCount, r.Problems, tuple.Format(key))
			}
			users := table(t, db, "User")
			ref, _ := users.Row(str("alice"))
			err := db.Get(context.Background(), ref, &testpb.User{})
			if tc.read && err == nil {
				t.Fatalf("Get of the corrupted row succeeded: the read path does not see what verify reports (%v)", r.Problems[0])
			}
			if tc.read && errors.Is(err, runtime.ErrNotFound) {
				t.Fatalf("Get: %v", err)
			}
		})
	}
}

// TestVerifyDigests checks that digests describe the logical pairs: equal on
// two engines and in a namespace, sensitive to one changed value, and
// independent of the number of workers.
func TestVerifyDigests(t *testing.T) {
	mem, peb := memkv.New(), openPebble(t)
	a := verify(t, verifyFixture(t, mem), runtime.VerifyOptions{Workers: 1})
	b := verify(t, verifyFixture(t, peb), runtime.VerifyOptions{Workers: 4})
	// Each DB has its own random cursor secret in its metadata, so only the
	// tables' digests are compared across DBs.
	if fmt.Sprint(digestLines(a)[1:]) != fmt.Sprint(digestLines(b)[1:]) {
		t.Fatalf("memkv and pebblekv digests differ:\n%v\n%v", digestLines(a), digestLines(b))
	}

	shared := memkv.New()
	verifyFixture(t, shared)                                    // default namespace
	ns := verifyFixture(t, shared, runtime.WithNamespace("t1")) // and a tenant
	c := verify(t, ns, runtime.VerifyOptions{})
	if c.Pairs != a.Pairs || fmt.Sprint(digestLines(c)[1:]) != fmt.Sprint(digestLines(a)[1:]) {
		t.Fatalf("namespaced digests differ from the default namespace's:\n%v\n%v", digestLines(c), digestLines(a))
	}

	k, v := findKey(t, mem, func(k []byte) bool { return len(k) > 0 && k[0] != 0 })
	v = append(v, protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 1)...) // still valid: an unknown field
	set(t, mem, k, v)
	d := verify(t, openDB(t, mem), runtime.VerifyOptions{})
	if d.Digests[0].Sum != a.Digests[0].Sum {
		t.Error("the metadata digest changed though no metadata did")
	}
	if d.Digests[1].Sum == a.Digests[1].Sum {
		t.Error("the User digest did not change after a value changed")
	}
}

func digestLines(r *runtime.VerifyReport) []string {
	var s []string
	for _, d := range r.Digests {
		s = append(s, fmt.Sprintf("%s %d %d %s", d.Name, d.Pairs, d.Bytes, d.Sum))
	}
	return s
}
