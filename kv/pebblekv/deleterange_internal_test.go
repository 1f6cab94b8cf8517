package pebblekv

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestKeysInSkipsVersions checks that listing the keys of a small range to
// delete them one by one steps over the shadowed versions of a key rewritten
// many times since the last flush instead of walking them: the internal
// steps stay a handful, whatever the number of rewrites (a Put of a hot map
// entry deletes its range first).
func TestKeysInSkipsVersions(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: errorLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const rewrites = 2000
	for i := range rewrites {
		for _, k := range []string{"a", "hot", "hot\x00child", "z"} {
			if err := db.Set([]byte(k), fmt.Appendf(nil, "%d", i), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := db.NewIndexedBatch()
	defer b.Close()
	it, err := b.NewIter(&pebble.IterOptions{LowerBound: []byte("hot"), UpperBound: []byte("hot\x01")})
	if err != nil {
		t.Fatal(err)
	}
	var listed rangeKeys
	listed.list(it, true)
	var keys [][]byte
	for i := range listed.len() {
		keys = append(keys, listed.key(i))
	}
	steps := it.Stats().ForwardStepCount[pebble.InternalIterCall]
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || string(keys[0]) != "hot" || string(keys[1]) != "hot\x00child" {
		t.Fatalf("keys %q, want hot and hot\\x00child", keys)
	}
	if steps > 10 {
		t.Errorf("listing 2 keys with %d versions each took %d internal steps, want a handful", rewrites, steps)
	}
}

// TestRangeKeysReused lists the keys of ranges one after another into one
// rangeKeys, as deleteRange's pooled one is: each listing holds exactly
// the keys of its range, in order, whatever the one before held, and stops
// after pointDeleteLimit+1 keys.
func TestRangeKeysReused(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: errorLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var all []string
	for i := range pointDeleteLimit + 20 {
		all = append(all, fmt.Sprintf("many/%03d", i))
	}
	all = append(all, "a/long-key-number-one", "a/long-key-number-two", "a/x", "b/1", "c/only")
	for _, k := range all {
		if err := db.Set([]byte(k), []byte("v"), pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	var r rangeKeys
	for _, tt := range []struct {
		lo, hi string
		want   []string
	}{
		{"a/", "a0", []string{"a/long-key-number-one", "a/long-key-number-two", "a/x"}},
		{"b/", "b0", []string{"b/1"}},
		{"many/", "many0", all[:pointDeleteLimit+1]},
		{"c/", "c0", []string{"c/only"}},
		{"d/", "d0", nil},
		{"a/x", "a0", []string{"a/x"}},
	} {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(tt.lo), UpperBound: []byte(tt.hi)})
		if err != nil {
			t.Fatal(err)
		}
		r.list(it, true)
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := range r.len() {
			got = append(got, string(r.key(i)))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("[%s, %s): listed %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}
