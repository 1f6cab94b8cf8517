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
// values, when its objects' names are unique (RFC 8259's interoperable
// JSON, the only JSON protojson writes): with a name twice in one object,
// which of the two a decoder keeps depends on their order, and reversing a
// map's entries changes it (testdata/fuzz/FuzzOrderJSON/e29b13ec610cd268).
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
		if duplicateNames(b) {
			return
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

// duplicateNames reports whether an object of the valid JSON b has a name
// twice.
func duplicateNames(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	// One entry per open object or array: the names seen (nil for an
	// array) and whether the next token of an object is a name.
	type level struct {
		names  map[string]bool
		isName bool
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.names != nil && top.isName {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string)
			if top.names[name] {
				return true
			}
			top.names[name] = true
			top.isName = false
			continue
		}
		if top != nil && top.names != nil {
			top.isName = true // after this value, a name or the end
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{names: map[string]bool{}, isName: true})
		case json.Delim('['):
			stack = append(stack, &level{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

func TestDuplicateNames(t *testing.T) {
	for in, want := range map[string]bool{
		`{"points":{"":0 ,"":{}}}`:                  true,
		`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`: false,
		`{"a":[1,{"b":1,"b":2}]}`:                   true,
		`{"a":{},"a":[]}`:                           true,
		`[{"x":1},{"x":1}]`:                         false,
		`{"a":{"b":{}},"b":{"a":1}}`:                false,
		`1`:                                         false,
	} {
		if got := duplicateNames([]byte(in)); got != want {
			t.Errorf("duplicateNames(%s) = %v, want %v", in, got, want)
		}
	}
}
