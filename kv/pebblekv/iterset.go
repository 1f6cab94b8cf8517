package pebblekv

import (
	"math/rand/v2"
	"sync"
)

// iterShards is the number of shards of an iterSet: enough that goroutines
// on different cores opening and closing iterators at the same time rarely
// meet on one lock.
const iterShards = 16

// iterSet holds a Store's open Store-level iterators, so that Close can
// close the Pebble iterators left open before it closes the database
// (pebble.DB.Close fails with "leaked iterators" otherwise). A viewless read
// opens and closes one such iterator per point query, from any number of
// goroutines, so the set is sharded: add puts an iterator in a shard picked
// at random (math/rand/v2's top-level source is per thread, with no shared
// state), remembered in the iterator for remove. One store-wide mutex made
// every NewIter and every iterator Close of every goroutine take the same
// lock.
//
// add and remove are called inside the store's guard and drain after the
// guard has closed (no call in flight, none to come), so drain sees every
// iterator added and not removed, and none is added after it.
type iterSet struct {
	shards [iterShards]iterShard
}

type iterShard struct {
	mu sync.Mutex
	// slots hold the shard's iterators, each at its slot index; free are
	// the indexes of the empty slots. A slot array rather than a map: no
	// hashing, and no rehashing while the lock is held.
	slots []*iterator
	free  []uint32
	// pad keeps each shard's lock on a cache line of its own.
	_ [64 - 8 - 24 - 24]byte
}

func (s *iterSet) add(i *iterator) {
	i.shard = rand.Uint32N(iterShards)
	sh := &s.shards[i.shard]
	sh.mu.Lock()
	if n := len(sh.free); n > 0 {
		i.slot = sh.free[n-1]
		sh.free = sh.free[:n-1]
		sh.slots[i.slot] = i
	} else {
		i.slot = uint32(len(sh.slots))
		sh.slots = append(sh.slots, i)
	}
	sh.mu.Unlock()
}

func (s *iterSet) remove(i *iterator) {
	sh := &s.shards[i.shard]
	sh.mu.Lock()
	sh.slots[i.slot] = nil
	sh.free = append(sh.free, i.slot)
	sh.mu.Unlock()
}

// drain empties the set, calling fn on each iterator it held.
func (s *iterSet) drain(fn func(*iterator)) {
	for k := range s.shards {
		sh := &s.shards[k]
		sh.mu.Lock()
		slots := sh.slots
		sh.slots, sh.free = nil, nil
		sh.mu.Unlock()
		for _, i := range slots {
			if i != nil {
				fn(i)
			}
		}
	}
}
