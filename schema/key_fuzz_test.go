package schema_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// FuzzColumnDecode: decoding any bytes as an element of any key column
// returns an error or a value of the column's type whose element is
// exactly the bytes decoded (the encoding is canonical), never a panic.
func FuzzColumnDecode(f *testing.F) {
	cols := keyColumns(f)
	for i, col := range cols {
		for _, v := range sortedValues(col) {
			f.Add(uint8(i), col.Append(nil, v))
		}
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(2), []byte{0x33, 0x80})
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		col := cols[int(which)%len(cols)]
		v, n, err := col.Decode(b)
		skip, serr := col.Skip(b)
		if err != nil {
			if !errors.Is(err, schema.ErrKeyValue) {
				t.Fatalf("%s: Decode(%x) error %v does not wrap ErrKeyValue", col.Name(), b, err)
			}
			if serr == nil && errors.Is(err, tuple.ErrMalformed) {
				t.Fatalf("%s: Skip(%x) accepted what Decode found malformed: %v", col.Name(), b, err)
			}
			return
		}
		if serr != nil || skip != n {
			t.Fatalf("%s: Skip(%x) = %d, %v; Decode read %d", col.Name(), b, skip, serr, n)
		}
		if err := col.Check(v); err != nil {
			t.Fatalf("%s: Decode(%x) = %v, which Check refuses: %v", col.Name(), b, v, err)
		}
		if re := col.Append(nil, v); !bytes.Equal(re, b[:n]) {
			t.Fatalf("%s: Append(Decode(%x) = %v) = %x", col.Name(), b[:n], v, re)
		}
	})
}

// FuzzResolve: resolving any bytes as a key of the test schema returns a
// location or ErrUnresolved, and renders without panicking.
func FuzzResolve(f *testing.F) {
	cat, err := schema.Compile(testpb.File_protoql_test_v1_social_proto)
	if err != nil {
		f.Fatal(err)
	}
	user := tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, "alice")
	f.Add(user)
	f.Add(tuple.AppendString(tuple.AppendString(append([]byte(nil), user...), 5, tuple.Asc, "s1"), 3, tuple.Asc, "ip"))
	f.Add(tuple.AppendInt(tuple.AppendInt(tuple.AppendString(tuple.AppendUnit(nil, 3), 1, tuple.Asc, "bob"), 2, tuple.Asc, 1), 3, tuple.Desc, -7))
	f.Add([]byte{0x40})
	fuzzResolve(f, cat)
}

// FuzzResolveApart is FuzzResolve on a schema with fields stored apart,
// seeded with their keys.
func FuzzResolveApart(f *testing.F) {
	cat, err := schema.Compile(apartpb.File_protoql_test_apart_v1_apart_proto)
	if err != nil {
		f.Fatal(err)
	}
	apart := tuple.AppendString(tuple.AppendUint(nil, 20, tuple.Asc, 5), 1, tuple.Asc, "alice")
	f.Add(tuple.AppendUnit(tuple.AppendString(append([]byte(nil), apart...), 5, tuple.Asc, "s1"), 4))
	f.Add(tuple.AppendString(tuple.AppendString(tuple.AppendUint(nil, 20, tuple.Asc, 11), 1, tuple.Asc, "a"), 11, tuple.Asc, "c"))
	f.Add(tuple.AppendUint(tuple.AppendUint(nil, 21, tuple.Asc, 2), 2, tuple.Asc, 7))
	f.Add(apart)
	fuzzResolve(f, cat)
}

// fuzzResolve checks Resolve's properties on any bytes: a location or
// ErrUnresolved, a rendering, and a row key (for an apart key, the row key
// it belongs to) that resolves to the row.
func fuzzResolve(f *testing.F, cat *schema.Catalog) {
	f.Fuzz(func(t *testing.T, key []byte) {
		loc, err := cat.Resolve(key)
		if err != nil && !errors.Is(err, schema.ErrUnresolved) {
			t.Fatalf("Resolve(%x): error %v does not wrap ErrUnresolved", key, err)
		}
		if err == nil && loc == nil {
			t.Fatalf("Resolve(%x): no location and no error", key)
		}
		if loc == nil {
			return
		}
		_ = loc.String()
		if loc.Resolved() > len(loc.Elems) || (err == nil && loc.Resolved() != len(loc.Elems)) {
			t.Fatalf("Resolve(%x): resolved %d of %d elements, error %v", key, loc.Resolved(), len(loc.Elems), err)
		}
		if err == nil {
			rowKey := key[:loc.RowLen]
			if loc.Apart != nil {
				_, n, _ := tuple.DecodeElement(key)
				rowKey = append(tuple.AppendUnit(nil, loc.Table.ID), key[n:loc.RowLen]...)
			}
			row, rerr := cat.Resolve(rowKey)
			if rerr != nil || row.Table != loc.Table || len(row.Fields) != 0 {
				t.Fatalf("Resolve(%x): the row key %x (RowLen %d) does not resolve to a row: %v", key, rowKey, loc.RowLen, rerr)
			}
		}
	})
}
