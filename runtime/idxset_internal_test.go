package runtime

import (
	"fmt"
	"testing"
)

// TestIdxSet checks idxSet against a Go map, across the switch from
// searching its list to indexing it by a map (more than idxSetScan
// entries): every key put is found with its latest entry, replacing one
// keeps its place, and a key never put is not found.
func TestIdxSet(t *testing.T) {
	for _, n := range []int{0, 1, idxSetScan, idxSetScan + 1, 5 * idxSetScan} {
		var s idxSet
		model := map[string]idxEntry{}
		key := func(i int) []byte { return fmt.Appendf(nil, "entry-%03d", i) }
		for round := range 2 { // the second round replaces every entry
			for i := range n {
				e := idxEntry{key: key(i), value: fmt.Appendf(nil, "v%d.%d", i, round), rest: i}
				s.put(e)
				model[string(e.key)] = e
			}
		}
		if len(s.list) != n {
			t.Errorf("%d keys: list of %d entries", n, len(s.list))
		}
		for k, want := range model {
			got, ok := s.get([]byte(k))
			if !ok || string(got.value) != string(want.value) || got.rest != want.rest {
				t.Errorf("%d keys: get(%q) = %q, %v; want %q", n, k, got.value, ok, want.value)
			}
		}
		for i, e := range s.list {
			if string(e.key) != string(key(i)) {
				t.Errorf("%d keys: list[%d] is %q, want %q (a replaced entry keeps its place)", n, i, e.key, key(i))
			}
		}
		if _, ok := s.get(key(n)); ok {
			t.Errorf("%d keys: get(%q) found a key never put", n, key(n))
		}
	}
}
