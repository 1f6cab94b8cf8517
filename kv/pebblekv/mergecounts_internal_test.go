package pebblekv

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// countsModel is mergeCounts with a Go map per shard (the counts as they
// were before the arena): the model of TestMergeCountsModel and the
// baseline of BenchmarkMergeCountsDue.
type countsModel struct {
	seed   maphash.Seed
	room   int
	shards [mergeShards]struct {
		keys  map[string]int
		bytes int
	}
}

func newCountsModel(seed maphash.Seed, room int) *countsModel {
	m := &countsModel{seed: seed, room: room / mergeShards}
	for i := range m.shards {
		m.shards[i].keys = map[string]int{}
	}
	return m
}

func (m *countsModel) due(key []byte) bool {
	sh := &m.shards[maphash.Bytes(m.seed, key)%mergeShards]
	if n, ok := sh.keys[string(key)]; ok {
		if n+1 < mergeEvery {
			sh.keys[string(key)] = n + 1
			return false
		}
		sh.keys[string(key)] = 0
		return true
	}
	if sh.bytes+len(key)+countOverhead > m.room {
		return true
	}
	sh.bytes += len(key) + countOverhead
	sh.keys[string(key)] = 1
	return false
}

func (m *countsModel) reset() {
	for i := range m.shards {
		clear(m.shards[i].keys)
		m.shards[i].bytes = 0
	}
}

// TestMergeCountsModel checks mergeCounts against countsModel, a map per
// shard: the same answer to every due, under random keys (lengths 0 to 40,
// from pools small enough for keys to repeat and large enough for the
// shards to fill), random resets, rooms from none to plenty, and
// generations that wrap around.
func TestMergeCountsModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 61))
	for round := range 60 {
		room := []int{0, mergeShards * 60, mergeShards * 2000, mergeShards * 50_000}[round%4]
		c := newMergeCounts(room)
		m := newCountsModel(c.seed, room)
		if round%3 == 0 {
			for i := range c.shards {
				c.shards[i].gen = genMask - uint32(rng.IntN(3)) // wraps after a reset or three
			}
		}
		pool := 1 + rng.IntN(3000)
		resetEvery := 1 + rng.IntN(5000)
		for i := range 20_000 {
			k := rng.IntN(pool)
			key := fmt.Appendf(nil, "%0*d", k%41, k)[:k%41]
			if k%41 == 0 {
				key = []byte{}
			}
			key = append(key, byte(k), byte(k>>8)) // keys of one length differ
			if got, want := c.due(key), m.due(key); got != want {
				t.Fatalf("round %d (room %d), merge %d of %q: due %v, the model %v", round, room, i, key, got, want)
			}
			if rng.IntN(resetEvery) == 0 {
				c.reset()
				m.reset()
			}
		}
	}
}

// TestMergeCountsReset checks that a reset forgets every key even when the
// generation wraps, and that the slots and the arena stay within the room.
func TestMergeCountsReset(t *testing.T) {
	const room = mergeShards * 100 * (8 + countOverhead)
	c := newMergeCounts(room)
	for i := range c.shards {
		c.shards[i].gen = genMask
	}
	// Generation 1's slots are still there when the generations wrap to
	// 1 again: reset must clear them.
	old := newMergeCounts(room)
	key := []byte("wrapped")
	for range mergeEvery - 1 {
		old.due(key)
	}
	for i := range old.shards {
		old.shards[i].gen = genMask
	}
	old.reset()
	for j := range mergeEvery - 1 {
		if old.due(key) {
			t.Fatalf("merge %d of %s after the generations wrapped is due: its count survived", j+1, key)
		}
	}
	for flush := range 3 {
		for k := range 400 {
			key := fmt.Appendf(nil, "key%05d", k)
			for j := range mergeEvery - 1 {
				if c.due(key) {
					t.Fatalf("flush %d: merge %d of %s is due", flush, j+1, key)
				}
			}
		}
		for i := range c.shards {
			sh := &c.shards[i]
			if mem := cap(sh.arena) + 16*cap(sh.slots); mem > 2*c.room {
				t.Fatalf("shard %d holds %d bytes, room %d", i, mem, c.room)
			}
		}
		c.reset()
	}
}

// TestMergeCountsMemory fills every shard with keys of 1 to 1,500 bytes:
// neither a shard's arena nor its slots grow past its room.
func TestMergeCountsMemory(t *testing.T) {
	for _, room := range []int{mergeShards * 600, mergeShards * 20_000, mergeShards * 100_000} {
		c := newMergeCounts(room)
		for k := range 50_000 {
			c.due(fmt.Appendf(nil, "%0*d", 1+k*7%1500, k))
		}
		for i := range c.shards {
			sh := &c.shards[i]
			if sh.bytes+1500+countOverhead <= c.room {
				t.Fatalf("room %d, shard %d not full: %d bytes", c.room, i, sh.bytes)
			}
			if cap(sh.arena) > c.room || 16*cap(sh.slots) > max(c.room, 16*minSlots) {
				t.Fatalf("room %d, shard %d: an arena of %d bytes, %d slots", c.room, i, cap(sh.arena), cap(sh.slots))
			}
		}
	}
}

// TestMergeCountsCollisions drives one shard with hashes from a set of
// three, so that most keys share their hash with others (and often their
// length), against a map: every key keeps its own count.
func TestMergeCountsCollisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	const room = 400 * (4 + countOverhead)
	var sh countShard
	sh.gen = 1
	model := map[string]int{}
	bytes := 0
	for i := range 50_000 {
		k := rng.IntN(500)
		key := fmt.Appendf(nil, "%d", k)
		want := false
		if n, ok := model[string(key)]; ok {
			model[string(key)] = (n + 1) % mergeEvery
			want = n+1 == mergeEvery
		} else if bytes+len(key)+countOverhead > room {
			want = true
		} else {
			bytes += len(key) + countOverhead
			model[string(key)] = 1
		}
		if got := sh.count(key, uint32(k%3), room); got != want {
			t.Fatalf("merge %d of %q: due %v, want %v", i, key, got, want)
		}
		if rng.IntN(3000) == 0 {
			clear(model)
			bytes = 0
			sh.gen++ // reset's work on one shard
			sh.arena, sh.used, sh.bytes = sh.arena[:0], 0, 0
		}
	}
}

// BenchmarkMergeCountsDue counts merges as MergeKey does, of keys shaped
// like the growth curve's session keys (about 40 bytes): "fresh" merges
// distinct keys of a 1,000,000-key map, with a reset (a flush) every
// 400,000 merges, as the growth curve's setter at 1,000,000 entries does;
// "hot" merges the 10 keys of a small map again and again. "map" is
// countsModel, a Go map per shard.
func BenchmarkMergeCountsDue(b *testing.B) {
	const flushEvery = 400_000
	keys := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = fmt.Appendf(nil, "\x12\x01users\x00\x01\x12grow%08d\x00\x02\x12s%07d\x00", 1_000_000, (i*7919)%n)
		}
		return out
	}
	type counter interface {
		due([]byte) bool
		reset()
	}
	for _, bc := range []struct {
		name string
		keys [][]byte
	}{{"fresh", keys(1_000_000)}, {"hot", keys(10)}} {
		for _, impl := range []string{"arena", "map"} {
			b.Run(bc.name+"/"+impl, func(b *testing.B) {
				var c counter = newMergeCounts(256 << 20)
				if impl == "map" {
					c = newCountsModel(maphash.MakeSeed(), 256<<20)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					c.due(bc.keys[i%len(bc.keys)])
					i++
					if i%flushEvery == 0 {
						c.reset()
					}
				}
			})
		}
	}
}
