package occ

import "bytes"

// maxLevel bounds the skiplist's height: with a branching factor of 4 it
// serves about 4^maxLevel keys (16M) at logarithmic cost, far more than any
// transaction holds. (16 made the head's array 32 bytes longer, which put
// the Txn in the next size class: 1,024 bytes, not 896.)
const maxLevel = 12

// version is one write of a key in a transaction: a value or a deletion,
// stamped with the transaction's write counter.
type version struct {
	seq     uint64
	value   []byte
	deleted bool
}

// node is one key of the write buffer with its versions, oldest first.
// Older versions are kept only while an iterator opened before a newer
// write may still need them (see Txn.write).
type node struct {
	key  []byte
	vers []version
	next []*node
	// Inline backing for vers and next: most keys are written once, and
	// three in four nodes have one or two levels.
	vers1 [1]version
	next2 [2]*node
}

// at returns the newest version written at or before seq.
func (n *node) at(seq uint64) (version, bool) {
	for i := len(n.vers) - 1; i >= 0; i-- {
		if n.vers[i].seq <= seq {
			return n.vers[i], true
		}
	}
	return version{}, false
}

// skiplist is the ordered write buffer of a transaction: nodes are only
// ever added, never removed (a deletion is a version), so an iterator's
// node pointer stays valid while the transaction writes. It belongs to the
// transaction's goroutine.
type skiplist struct {
	head     node
	headNext [maxLevel]*node
	level    int
	rnd      uint64
	len      int
	// mem holds the copies of the keys; slab the nodes not yet used, so
	// that a transaction writing a few keys allocates a few slabs, not a
	// node and a key copy per key. The first slab is the owner's (the
	// Txn's nodes0).
	mem  *arena
	slab []node
}

// slabNodes is how many nodes a slab holds: a write of a row with an index
// or two (the row, an entry deleted, an entry set) fits in one.
const slabNodes = 4

// init readies an embedded skiplist whose key copies come from mem and
// whose first nodes from first (nil: none); it must not be copied
// afterwards.
func (s *skiplist) init(mem *arena, first []node) {
	s.head.next = s.headNext[:]
	s.level, s.rnd = 1, 0x9E3779B97F4A7C15
	s.mem, s.slab = mem, first
}

// newNode returns a zero node from the slab. Nodes are never freed or
// moved, so pointers to them stay valid while the skiplist lives.
func (s *skiplist) newNode() *node {
	if len(s.slab) == 0 {
		s.slab = make([]node, slabNodes)
	}
	n := &s.slab[0]
	s.slab = s.slab[1:]
	return n
}

// randomLevel draws a level with P(level > k) = 4^-k (xorshift64).
func (s *skiplist) randomLevel() int {
	s.rnd ^= s.rnd << 13
	s.rnd ^= s.rnd >> 7
	s.rnd ^= s.rnd << 17
	l, r := 1, s.rnd
	for l < maxLevel && r&3 == 0 {
		l++
		r >>= 2
	}
	return l
}

// getOrInsert returns the node of key, adding it (with a copy of key) if
// it is missing.
func (s *skiplist) getOrInsert(key []byte) *node {
	var prev [maxLevel]*node
	x := &s.head
	for l := s.level - 1; l >= 0; l-- {
		for x.next[l] != nil && bytes.Compare(x.next[l].key, key) < 0 {
			x = x.next[l]
		}
		prev[l] = x
	}
	if n := x.next[0]; n != nil && bytes.Equal(n.key, key) {
		return n
	}
	lvl := s.randomLevel()
	for l := s.level; l < lvl; l++ {
		prev[l] = &s.head
	}
	s.level = max(s.level, lvl)
	n := s.newNode()
	n.key = s.mem.copy(key)
	n.vers = n.vers1[:0]
	if lvl <= len(n.next2) {
		n.next = n.next2[:lvl]
	} else {
		n.next = make([]*node, lvl)
	}
	for l := range lvl {
		n.next[l] = prev[l].next[l]
		prev[l].next[l] = n
	}
	s.len++
	return n
}

// find returns the node of key, or nil.
func (s *skiplist) find(key []byte) *node {
	n := s.seekGE(key)
	if n != nil && bytes.Equal(n.key, key) {
		return n
	}
	return nil
}

// seekGE returns the first node with a key >= key, or nil.
func (s *skiplist) seekGE(key []byte) *node {
	x := &s.head
	for l := s.level - 1; l >= 0; l-- {
		for x.next[l] != nil && bytes.Compare(x.next[l].key, key) < 0 {
			x = x.next[l]
		}
	}
	return x.next[0]
}

// seekLT returns the last node with a key < key, or nil; a nil key means
// "after every key", giving the last node.
func (s *skiplist) seekLT(key []byte) *node {
	x := &s.head
	for l := s.level - 1; l >= 0; l-- {
		for x.next[l] != nil && (key == nil || bytes.Compare(x.next[l].key, key) < 0) {
			x = x.next[l]
		}
	}
	if x == &s.head {
		return nil
	}
	return x
}

// arena hands out copies of byte slices (the keys and values a
// transaction keeps) cut from shared chunks, so that copying a few short
// keys costs one allocation, or none in the chunk a Txn holds inline.
// Copies are only appended, never changed or reused, and each is capped at
// its length, so a copy stays valid, and appending to it reallocates,
// for as long as anyone holds it.
type arena struct{ buf []byte }

// arenaChunk is the size of the chunks after the first; a copy longer
// than a quarter of it gets an allocation of its own.
const arenaChunk = 1024

// copy returns a copy of b (non-nil, also when b is empty).
func (a *arena) copy(b []byte) []byte {
	if len(b) > arenaChunk/4 {
		return append(make([]byte, 0, len(b)), b...)
	}
	if cap(a.buf)-len(a.buf) < len(b) || a.buf == nil {
		a.buf = make([]byte, 0, arenaChunk)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}
