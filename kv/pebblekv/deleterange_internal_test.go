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
	keys := keysIn(it, true)
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
