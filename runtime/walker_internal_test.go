package runtime

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/tuple"
)

// TestWalkerMoves checks the forward walker's moves (seekGE, seekPast with
// and without its probe, next) against a sorted list of the keys, in
// random sequences that seek back as well as forward: a move that skips
// the iterator because the walker's gap says the key lies before its
// position must land where the iterator would have.
func TestWalkerMoves(t *testing.T) {
	ctx := context.Background()
	alphabet := []byte{0x00, 0x01, 0x02, 0xFE, 0xFF}
	for seed := range uint64(40) {
		rnd := rand.New(rand.NewPCG(seed, 3))
		gen := func(maxLen int) []byte {
			b := make([]byte, 1+rnd.IntN(maxLen))
			for i := range b {
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			}
			return b
		}
		store := memkv.New()
		var b kv.Batch
		set := map[string]bool{}
		for range 1 + rnd.IntN(60) {
			k := gen(4)
			set[string(k)] = true
			if err := b.Set(k, []byte{byte(len(k))}); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// at returns the position of the first key >= k.
		at := func(k []byte) int {
			i, _ := slices.BinarySearch(keys, string(k))
			return i
		}
		e := &exec{ctx: ctx, r: store}
		w, err := e.walker(nil, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		pos := -1 // unpositioned
		probe := false
		var ops []string
		for range 300 {
			var ok bool
			switch op := rnd.IntN(4); {
			case pos < 0 || op == 0:
				k := gen(4)
				ops = append(ops, "seekGE "+kv.KeyText(k))
				ok, pos = w.seekGE(k), at(k)
			case pos >= len(keys):
				continue
			case op == 1:
				ops = append(ops, "next")
				ok, pos = w.next(), pos+1
			default:
				cur := []byte(keys[pos])
				prefix := cur[:1+rnd.IntN(len(cur))]
				probe = op == 3 || probe && rnd.IntN(2) == 0
				// on: the walker stands on prefix itself, as a
				// stepper tells it when it landed on its unit.
				on := len(prefix) == len(cur) && rnd.IntN(2) == 0
				ops = append(ops, fmt.Sprintf("seekPast %s on %v", kv.KeyText(prefix), on))
				pp := &probe
				if rnd.IntN(2) == 0 {
					pp = nil
				}
				ok = w.seekPast(prefix, pp, on)
				if end, more := tuple.AppendPrefixEnd(nil, prefix); more {
					pos = at(end)
				} else {
					// An all-0xFF prefix: the walker did not move
					// and says so; it is not positioned.
					if ok {
						t.Fatalf("seed %d, %v: seekPast of an all-0xFF prefix reported a key", seed, ops)
					}
					pos = -1
					continue
				}
			}
			if want := pos < len(keys); ok != want || ok && !bytes.Equal(w.key, []byte(keys[pos])) {
				t.Fatalf("seed %d, after %v: walker at %v %s, want %v %s", seed, ops, ok, kv.KeyText(w.key), want, kv.KeyText([]byte(keys[min(pos, len(keys)-1)])))
			}
		}
		w.close()
	}
}
