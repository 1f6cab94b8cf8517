package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/protoql/protoql/examples/timeseries/seriespb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// FuzzDecodeBounds: any bytes decode to at least one reading, without a
// panic, and a whole key reads back as itself.
func FuzzDecodeBounds(f *testing.F) {
	cat, err := schema.Compile(seriespb.File_protoql_examples_timeseries_v1_timeseries_proto)
	if err != nil {
		f.Fatal(err)
	}
	row := tuple.AppendString(tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, "cpu"), 2, tuple.Asc, "h1")
	for _, seed := range [][]byte{nil, {0}, {0xff}, row, tuple.PrefixEnd(row), tuple.AppendTag(row, 5, tuple.KindInt.Descending()), tuple.AppendInt(row, 5, tuple.Desc, -7)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ds := decodeBounds(b)
		if len(ds) == 0 {
			t.Fatalf("no reading of %x", b)
		}
		for _, d := range ds {
			_ = d.path(cat)
			_ = d.resolves(cat)
		}
		if _, err := tuple.Decode(b); err == nil && (ds[0].kind != wholeKey || ds[0].text != tuple.Format(b)) {
			t.Fatalf("whole key %x read as %q, want %q", b, ds[0].text, tuple.Format(b))
		}
	})
}

// FuzzResolvePath: any .delete/.set path resolves or fails with an error,
// never a panic.
func FuzzResolvePath(f *testing.F) {
	db, err := runtime.Open(context.Background(), memkv.New(), runtime.WithSchema(seriespb.File_protoql_examples_timeseries_v1_timeseries_proto))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{`Series["cpu", "h1"]`, `Series["a".."b"]`, `Series["cpu", "h1"].points[5]`, `Series["cpu", "h1"].points[1..9]`,
		`Series["cpu", "h1"].labels["x"]`, `Series["cpu", "h1"].unit`, `Series["c.x", "h"].last_us`, `Series`, `Series[`, `."\`, `Series["cpu"].points`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if len(path) > 1000 {
			return
		}
		if q := pathQuery(path); len(q) < len(path) {
			t.Fatalf("pathQuery(%q) = %q shorter than the path", path, q)
		}
		_, _ = resolve(db, path)
		_, _, _ = cutAssign(path)
	})
}

// FuzzOrderJSON: any input is refused or rewritten into JSON with the same
// values.
func FuzzOrderJSON(f *testing.F) {
	md := (&seriespb.Series{}).ProtoReflect().Descriptor()
	o := keyOrder{md.Fields().ByName("points").FullName(): true}
	for _, seed := range []string{`{"points":{"1":{"value":1},"2":{}}}`, `{}`, `[]`, `{"points":[1,2]}`, `{"labels":{"a":"<&>"}}`, `{"points":{"1":{"value":1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := o.orderJSON(b, md)
		if err != nil {
			return
		}
		var in, got any
		if json.Unmarshal(b, &in) != nil {
			return // the decoder may accept a prefix of invalid input
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("orderJSON(%s) = %s, not JSON: %v", b, out, err)
		}
		ib, _ := json.Marshal(in)
		gb, _ := json.Marshal(got)
		if !bytes.Equal(ib, gb) && !strings.Contains(string(b), `\u`) {
			t.Fatalf("orderJSON(%s) = %s: values differ", b, out)
		}
	})
}
