package kvtest

import (
	"bytes"
	"slices"
	"sort"

	"github.com/protoql/protoql/kv"
)

// model is the reference every engine is checked against: a sorted map from
// key to value with the contract's semantics and nothing else. It is
// deliberately naive (a sorted slice and a map) so that it is obviously
// right.
type model struct {
	keys []string // sorted ascending
	vals map[string]string
}

func newModel() *model { return &model{vals: make(map[string]string)} }

func (m *model) clone() *model {
	c := &model{keys: slices.Clone(m.keys), vals: make(map[string]string, len(m.vals))}
	for k, v := range m.vals {
		c.vals[k] = v
	}
	return c
}

func (m *model) get(key []byte) ([]byte, bool) {
	v, ok := m.vals[string(key)]
	return []byte(v), ok
}

func (m *model) set(key, value []byte) {
	k := string(key)
	if _, ok := m.vals[k]; !ok {
		i := sort.SearchStrings(m.keys, k)
		m.keys = slices.Insert(m.keys, i, k)
	}
	m.vals[k] = string(value)
}

func (m *model) delete(key []byte) {
	k := string(key)
	if _, ok := m.vals[k]; !ok {
		return
	}
	delete(m.vals, k)
	i := sort.SearchStrings(m.keys, k)
	m.keys = slices.Delete(m.keys, i, i+1)
}

func (m *model) deleteRange(start, end []byte) {
	i := sort.SearchStrings(m.keys, string(start))
	j := sort.SearchStrings(m.keys, string(end))
	if i >= j {
		return
	}
	for _, k := range m.keys[i:j] {
		delete(m.vals, k)
	}
	m.keys = slices.Delete(m.keys, i, j)
}

// apply replays batch operations in order.
func (m *model) apply(ops []kv.Op) {
	for _, op := range ops {
		switch op.Kind {
		case kv.OpSet:
			m.set(op.Key, op.Value)
		case kv.OpDelete:
			m.delete(op.Key)
		case kv.OpDeleteRange:
			m.deleteRange(op.Key, op.Value)
		}
	}
}

// scan returns the pairs an iterator with opts visits, in iteration order.
// An empty bound is no bound, as the contract says.
func (m *model) scan(opts kv.IterOptions) []pair {
	i, j := 0, len(m.keys)
	if len(opts.LowerBound) > 0 {
		i = sort.SearchStrings(m.keys, string(opts.LowerBound))
	}
	if len(opts.UpperBound) > 0 {
		j = sort.SearchStrings(m.keys, string(opts.UpperBound))
	}
	var out []pair
	for _, k := range m.keys[i:max(i, j)] {
		out = append(out, pair{k, m.vals[k]})
	}
	if opts.Reverse {
		slices.Reverse(out)
	}
	return out
}

// pair is one key-value pair as comparable strings.
type pair struct{ key, value string }

// modelIter replays an iterator over a fixed scan of the model: pos indexes
// the pairs in iteration order; -1 or len(pairs) means not positioned.
type modelIter struct {
	pairs   []pair
	reverse bool
	pos     int
}

func (m *model) iter(opts kv.IterOptions) *modelIter {
	return &modelIter{pairs: m.scan(opts), reverse: opts.Reverse, pos: -1}
}

func (it *modelIter) valid() bool { return it.pos >= 0 && it.pos < len(it.pairs) }

func (it *modelIter) cur() (pair, bool) {
	if !it.valid() {
		return pair{}, false
	}
	return it.pairs[it.pos], true
}

func (it *modelIter) first() { it.pos = 0 }

func (it *modelIter) next() {
	if it.valid() {
		it.pos++
	}
}

// seekGE positions a forward iterator at the first pair with key >= key; the
// pairs are already within bounds, which is the contract's clamping.
func (it *modelIter) seekGE(key []byte) {
	it.pos = sort.Search(len(it.pairs), func(i int) bool {
		return bytes.Compare([]byte(it.pairs[i].key), key) >= 0
	})
}

// seekLT positions a reverse iterator at the last key < key; the pairs are in
// descending order.
func (it *modelIter) seekLT(key []byte) {
	it.pos = sort.Search(len(it.pairs), func(i int) bool {
		return bytes.Compare([]byte(it.pairs[i].key), key) < 0
	})
}
