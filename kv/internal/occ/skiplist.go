package occ

import "bytes"

// maxLevel bounds the skiplist's height: with a branching factor of 4 it
// serves about 4^maxLevel keys at logarithmic cost, far more than any
// transaction holds.
const maxLevel = 16

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
}

// init readies an embedded skiplist; it must not be copied afterwards.
func (s *skiplist) init() {
	s.head.next = s.headNext[:]
	s.level, s.rnd = 1, 0x9E3779B97F4A7C15
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
	n := &node{key: append(make([]byte, 0, len(key)), key...)}
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
