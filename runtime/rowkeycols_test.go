package runtime_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// TestRowKeyColsMatchParse checks the row plan's decode of a row whose key
// columns scanOwn has already parsed (Table.rowKeyCols: setKeys cuts a
// plain string column from the key at the end recorded) against its decode
// parsing the key itself, on Scalars rows (a string, a descending sint32
// and a bytes column) whose names are plain, empty, non-ASCII, escaped
// (a 0x00 inside) or not valid UTF-8, and with a key below the row after
// the row key: the same row, or a decline from both. It also checks that
// rowKeyCols measures the row key RowOf built and finds the name plain
// exactly when its element has no escape, so that both of setKeys' ways
// are taken.
func TestRowKeyColsMatchParse(t *testing.T) {
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	r := rand.New(rand.NewPCG(41, 42))
	names := []string{"", "a", "é", "a\x00b", "\x00", "user-00042", "ab\x00"}
	counts := map[string]int{}
	for i := range 4000 {
		m := randomScalars(r)
		m.Name = names[r.IntN(len(names))]
		row := must[runtime.Ref](t)(tbl.RowOf(m)).Key()
		key := bytes.Clone(row)
		invalid := false
		if m.Name == "é" && r.IntN(2) == 0 {
			// The name's first byte (after the prefix and the tag) made
			// 0xFF: a plain element whose payload is not UTF-8.
			key[len(runtime.KeyPrefixForTest(tbl))+1] = 0xFF
			invalid = true
		}
		if r.IntN(3) == 0 {
			key = append(key, 0x0a, 0x01) // a key below the row
		}
		fields := planFields
		if i%2 == 1 {
			fields = []string{"name", "s"}
		}
		value := must[[]byte](t)(proto.Marshal(m))
		with, without, n, plain, err := runtime.RowKeyColsForTest(tbl, fields, key, value)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(row) {
			t.Fatalf("key %x: rowKeyCols measured %d bytes of row key, RowOf's is %d", key, n, len(row))
		}
		if len(plain) != 3 || plain[0] == strings.Contains(m.Name, "\x00") || plain[1] {
			t.Fatalf("name %q: rowKeyCols found the columns plain %v, want the name plain exactly when it has no 0x00 and the sint32 not", m.Name, plain)
		}
		if (with == nil) != (without == nil) || with != nil && !proto.Equal(with, without) {
			t.Fatalf("key %x value %x:\nwith rowKeyCols' columns %v\nparsing the key        %v", key, value, with, without)
		}
		switch {
		case invalid:
			if with != nil {
				t.Fatalf("key %x: a name that is not UTF-8 decoded: %v", key, with)
			}
			counts["invalid"]++
		case with == nil:
			t.Fatalf("key %x value %x: the plan declined a row Marshal wrote", key, value)
		case plain[0]:
			counts["plain"]++
		default:
			counts["escaped"]++
		}
	}
	for _, k := range []string{"plain", "escaped", "invalid"} {
		if counts[k] < 200 {
			t.Errorf("%d rows with a %s name: too few (%v)", counts[k], k, counts)
		}
	}
}
