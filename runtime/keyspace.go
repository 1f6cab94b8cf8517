package runtime

import (
	"bytes"
	"context"
	"errors"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/tuple"
)

// keyspace is the part of a store one database occupies: a namespace's
// prefix, or the default namespace (everything outside the namespaces), or
// the whole store. Keys relative to it are what verify digests and copy
// moves, so both are independent of where the database sits.
type keyspace struct {
	prefix []byte      // prepended to relative keys
	ranges [][2][]byte // the store ranges holding its keys, in order
}

// namespaceSpace returns the keyspace of a namespace (nil: the default
// namespace).
func namespaceSpace(name *string) keyspace {
	if name == nil {
		return keyspace{ranges: [][2][]byte{{nil, []byte{nsPrefix}}, {[]byte{nsPrefix + 1}, nil}}}
	}
	return prefixSpace(namespacePrefix(*name))
}

// prefixSpace is the keyspace of the keys under prefix p.
func prefixSpace(p []byte) keyspace {
	return keyspace{prefix: p, ranges: [][2][]byte{{p, tuple.PrefixEnd(p)}}}
}

// wholeStore is every key of the store.
var wholeStore = keyspace{ranges: [][2][]byte{{nil, nil}}}

// namespacePrefix is the prefix of a namespace's keys: 0x02, then the name
// as a tuple string element, which is self-terminating, so no namespace's
// keys are a prefix of another's.
func namespacePrefix(name string) []byte {
	return tuple.AppendString([]byte{nsPrefix}, 1, tuple.Asc, name)
}

// rel returns key relative to the keyspace (sharing key's memory).
func (s keyspace) rel(key []byte) []byte { return key[len(s.prefix):] }

// abs appends the store key of a relative key to dst.
func (s keyspace) abs(dst, rel []byte) []byte { return append(append(dst, s.prefix...), rel...) }

// eachPair calls fn with every pair of the keyspace but skip, its key
// relative to the keyspace; both slices are valid only during the call.
func eachPair(ctx context.Context, r kv.Reader, s keyspace, skip []byte, fn func(rel, v []byte) error) error {
	for _, rg := range s.ranges {
		it, err := r.NewIter(ctx, kv.IterOptions{LowerBound: rg[0], UpperBound: rg[1]})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			if skip != nil && bytes.Equal(it.Key(), skip) {
				continue
			}
			if err = fn(s.rel(it.Key()), it.Value()); err != nil {
				break
			}
		}
		if err = errors.Join(err, it.Close()); err != nil {
			return err
		}
	}
	return nil
}
