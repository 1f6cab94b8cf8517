package tikvkv

import (
	"bytes"
	"fmt"

	"github.com/protoql/protoql/kv"
)

// valueFormat is the first byte of every value tikvkv stores. TiKV's
// transactional API cannot store an empty value (client-go refuses it, and a
// snapshot read treats an empty value as a deleted key), while protoql writes
// empty values for objects without inline fields; so every value is stored as
// this byte followed by the caller's bytes. The byte doubles as a format
// version.
const valueFormat = 0x01

// appendValue appends the stored form of value to dst.
func appendValue(dst, value []byte) []byte {
	return append(append(dst, valueFormat), value...)
}

// decodeValue returns the caller's bytes of a stored value, aliasing stored.
func decodeValue(key, stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != valueFormat {
		return nil, fmt.Errorf("%w: value under key %x has no tikvkv format byte", ErrCorrupt, key)
	}
	return stored[1:], nil
}

// namespace maps the caller's keys into the store's key prefix and back.
type namespace struct {
	prefix     []byte
	maxKeySize int    // longest caller's key
	end        []byte // exclusive upper bound of every prefixed key; nil: none
	// top is a finite exclusive upper bound of every key the store can
	// write: end, or, when there is none, 0xFF repeated one byte longer
	// than the longest stored key. client-go cannot scan backwards from
	// "the end of the keyspace" across regions (an empty end key locates
	// the first region), so reverse scans always start from a real key.
	top []byte
}

func newNamespace(prefix []byte, maxKeySize int) namespace {
	p := bytes.Clone(prefix)
	n := namespace{prefix: p, maxKeySize: maxKeySize, end: prefixEnd(p)}
	n.top = n.end
	if n.top == nil {
		n.top = bytes.Repeat([]byte{0xFF}, len(p)+maxKeySize+1)
	}
	return n
}

// check returns ErrInvalid for a key the store cannot hold.
func (n namespace) check(key []byte) error {
	switch {
	case len(key) == 0:
		return errEmptyKey
	case len(key) > n.maxKeySize:
		return fmt.Errorf("tikvkv: %w: key of %d bytes is longer than MaxKeySize %d", kv.ErrInvalid, len(key), n.maxKeySize)
	}
	return nil
}

// appendKey appends the stored form of key to dst.
func (n namespace) appendKey(dst, key []byte) []byte {
	return append(append(dst, n.prefix...), key...)
}

// key returns the stored form of key in a new slice.
func (n namespace) key(key []byte) []byte {
	return n.appendKey(make([]byte, 0, len(n.prefix)+len(key)), key)
}

// lower returns the stored inclusive lower bound for a caller's lower bound
// (empty means none): nil when the namespace has no prefix and the bound is
// empty.
func (n namespace) lower(b []byte) []byte {
	if len(b) == 0 {
		if len(n.prefix) == 0 {
			return nil
		}
		return n.prefix
	}
	return n.key(b)
}

// upper returns the stored exclusive upper bound for a caller's upper bound
// (empty means none): nil means the end of TiKV's keyspace.
func (n namespace) upper(b []byte) []byte {
	if len(b) == 0 {
		return n.end
	}
	return n.key(b)
}

// strip returns the caller's key of a stored key, aliasing stored.
func (n namespace) strip(stored []byte) []byte { return stored[len(n.prefix):] }

// prefixEnd returns the smallest key greater than every key with prefix p, or
// nil if there is none (p empty or all 0xFF).
func prefixEnd(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xFF {
			end := bytes.Clone(p[:i+1])
			end[i]++
			return end
		}
	}
	return nil
}
