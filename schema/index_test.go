package schema_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/golden"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
)

func TestIndexRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"unknown field", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["nope"]}]}; string a = 1; }`,
			`t.proto:4:1: t.A: index "x": "nope" is not a field of A`},
		{"double field", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["a"]}]}; double a = 1; }`,
			`t.proto:4:1: t.A: index "x": field "a" has type double; indexed fields must be string, bytes, bool, enum or an integer type`},
		{"message field", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["b"]}]}; B b = 1; }
message B {}`, `index "x": field "b" is a message t.B; indexed fields must be scalars or enums`},
		{"map field", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["m"]}]}; map<string, string> m = 1; }`,
			`index "x": field "m" is a map`},
		{"duplicate name", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["a"]}, {name: "x", id: 2, fields: ["a"]}]}; string a = 1; }`,
			`t.proto:4:1: t.A: index "x" is declared twice`},
		{"duplicate id", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["a"]}, {name: "y", id: 1, fields: ["a"]}]}; string a = 1; }`,
			`index "y": id 1 is already used by another index of A`},
		{"zero id", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", fields: ["a"]}]}; string a = 1; }`,
			`index "x": id 0 must be between 1 and`},
		{"bad name", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "by email", id: 1, fields: ["a"]}]}; string a = 1; }`,
			`index name "by email" must be an identifier`},
		{"no fields", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1}]}; string a = 1; }`,
			`index "x" lists no fields`},
		{"field twice", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["a", "a"]}]}; string a = 1; }`,
			`index "x" lists field "a" twice`},
		{"descending not a field", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["a"], descending: ["b"]}]}; string a = 1; string b = 2; }`,
			`index "x": descending field "b" is not one of its fields`},
		{"two repeated", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["a", "b"]}]}; repeated string a = 1; repeated int64 b = 2; }`,
			`index "x": fields a and b are both repeated`},
		{"object field", `message A { option (protoql.v1.table) = {id: 1, index: [{name: "x", id: 1, fields: ["m"]}]}; map<string, B> m = 1; }
message B {}`, `index "x": field "m" is a map`},
		{"index on scalar map", `message A { option (protoql.v1.table) = {id: 1};
  map<string, string> m = 1 [(protoql.v1.field) = {index: [{name: "x", id: 1, fields: ["value"]}]}];
}`, "t.proto:5:3: t.A.m: index on map m: the map's values are string; map-scoped indexes index fields of message values"},
		{"index on plain field", `message A { option (protoql.v1.table) = {id: 1};
  string s = 1 [(protoql.v1.field) = {index: [{name: "x", id: 1, fields: ["s"]}]}];
}`, "t.proto:5:3: t.A.s: index applies to map fields"},
		{"map index unknown field", `message A { option (protoql.v1.table) = {id: 1};
  map<string, B> m = 1 [(protoql.v1.field) = {index: [{name: "x", id: 1, fields: ["nope"]}]}];
}
message B { string s = 1; }`, `t.proto:5:3: t.A.m: index "x": "nope" is not a field of B`},
		{"map index object field", `message A { option (protoql.v1.table) = {id: 1};
  map<string, B> m = 1 [(protoql.v1.field) = {index: [{name: "x", id: 1, fields: ["c"]}]}];
}
message B { C c = 1; }
message C {}`, `index "x": field "c" is a message t.C`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(t, header+tt.src)
			if err == nil {
				t.Fatalf("Compile succeeded, want error %q", tt.want)
			}
			if !errors.Is(err, schema.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
		})
	}
}

func indexedCatalog(t testing.TB) *schema.Catalog {
	t.Helper()
	c, err := schema.Compile(testpb.File_protoql_test_v1_indexed_proto)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIndexCatalog(t *testing.T) {
	t.Parallel()
	c := indexedCatalog(t)
	acc, err := c.Lookup("Account")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range acc.AllIndexes {
		got = append(got, x.Path())
	}
	want := "Account.by_email Account.by_age Account.by_tag Account.by_state_seen Account.by_id Account.tasks.by_done Account.tasks.by_slug Account.tasks.by_label Account.drawer.items.by_done"
	if strings.Join(got, " ") != want {
		t.Errorf("AllIndexes = %s, want %s", strings.Join(got, " "), want)
	}
	if x := acc.Index("by_tag"); x == nil || x.Repeated != 0 {
		t.Errorf("by_tag: got %+v, want a fan-out index over column 0", x)
	}
	if x := acc.Index("by_age"); x == nil || !x.Columns[0].Column.Kind.IsDescending() || x.Columns[1].Column.Kind.IsDescending() {
		t.Errorf("by_age: want age descending and name ascending")
	}
	items := acc.Root.Field(10).Child.Field(2)
	if got := items.Index("by_done").Scope(); len(got) != 3 || got[0] != 20 || got[1] != 10 || got[2] != 2 {
		t.Errorf("Scope of drawer.items.by_done = %v, want [20 10 2]", got)
	}
	if len(acc.Root.IndexedMaps) != 1 || acc.Root.IndexedMaps[0].Number() != 9 {
		t.Errorf("Root.IndexedMaps = %v, want [tasks]", acc.Root.IndexedMaps)
	}
}

// TestIndexEntryRoundTrip encodes the entries of a row through Keys and
// decodes them back through DecodeEntry.
func TestIndexEntryRoundTrip(t *testing.T) {
	t.Parallel()
	c := indexedCatalog(t)
	acc, _ := c.Lookup("Account")
	m := &testpb.Account{Org: "o", AccountId: 7, Email: proto.String("a@b.c"), Age: 30, Name: "n", Tags: []string{"x", "y", "x"}, State: testpb.AccountState_ACCOUNT_STATE_ACTIVE, LastSeenUs: -5}
	ns := []byte{0x02, 0x14, 'n', 0, 0}
	rowKey := acc.RowKeyOf(ns, m.ProtoReflect())
	for _, x := range acc.Indexes {
		prefix := x.AppendPrefix(bytes.Clone(ns), nil)
		entries := x.Keys(ns, rowKey, 0, m.ProtoReflect())
		wantN := 1
		if x.Name == "by_tag" {
			wantN = 2
		}
		if len(entries) != wantN {
			t.Fatalf("%s: %d entries, want %d", x.Path(), len(entries), wantN)
		}
		for _, e := range entries {
			if !bytes.HasPrefix(e[0], prefix) {
				t.Fatalf("%s: entry %x does not start with prefix %x", x.Path(), e[0], prefix)
			}
			vals, target, err := x.DecodeEntry(e[0][len(prefix):], e[1])
			if err != nil {
				t.Fatalf("%s: DecodeEntry: %v", x.Path(), err)
			}
			if got := acc.AppendPrefix(bytes.Clone(ns)); !bytes.Equal(append(got, target...), rowKey) {
				t.Errorf("%s: target %x does not rebuild row key %x", x.Path(), target, rowKey)
			}
			for i, col := range x.Columns {
				if col.Field.Desc.IsList() {
					continue
				}
				if want := m.ProtoReflect().Get(col.Field.Desc); !vals[i].Equal(want) {
					t.Errorf("%s: column %s = %v, want %v", x.Path(), col.Column.Name(), vals[i], want)
				}
			}
		}
	}
}

// TestIndexOrder checks that a descending column reverses the order of
// entries and that the pk breaks ties in key order.
func TestIndexOrder(t *testing.T) {
	t.Parallel()
	c := indexedCatalog(t)
	acc, _ := c.Lookup("Account")
	x := acc.Index("by_age")
	key := func(age int32, name string, id uint64) []byte {
		m := &testpb.Account{Org: "o", AccountId: id, Age: age, Name: name}
		rk := acc.RowKeyOf(nil, m.ProtoReflect())
		return x.Keys(nil, rk, 0, m.ProtoReflect())[0][0]
	}
	ordered := [][]byte{key(40, "a", 1), key(30, "a", 1), key(30, "b", 0), key(30, "b", 2), key(-1, "", 0)}
	for i := 1; i < len(ordered); i++ {
		if bytes.Compare(ordered[i-1], ordered[i]) >= 0 {
			t.Errorf("entry %d (%x) does not sort before entry %d (%x)", i-1, ordered[i-1], i, ordered[i])
		}
	}
}

func TestIndexDecodeRefuses(t *testing.T) {
	t.Parallel()
	c := indexedCatalog(t)
	acc, _ := c.Lookup("Account")
	email := acc.Index("by_email")
	m := &testpb.Account{Org: "o", AccountId: 1, Email: proto.String("e")}
	rk := acc.RowKeyOf(nil, m.ProtoReflect())
	e := email.Keys(nil, rk, 0, m.ProtoReflect())[0]
	rest := e[0][len(email.AppendPrefix(nil, nil)):]
	for _, tt := range []struct {
		name      string
		rest, val []byte
	}{
		{"empty", nil, nil},
		{"truncated value", rest[:len(rest)-1], e[1]},
		{"trailing bytes", append(bytes.Clone(rest), 0x10), e[1]},
		{"no target", rest, nil},
		{"short target", rest, e[1][:len(e[1])-1]},
		{"garbage", []byte{0xff, 0xff}, e[1]},
	} {
		if _, _, err := email.DecodeEntry(tt.rest, tt.val); !errors.Is(err, schema.ErrKeyValue) {
			t.Errorf("%s: DecodeEntry = %v, want ErrKeyValue", tt.name, err)
		}
	}
	tag := acc.Index("by_tag")
	if _, _, err := tag.DecodeEntry(rest, []byte{1}); !errors.Is(err, schema.ErrKeyValue) {
		t.Errorf("non-unique entry with a value: %v, want ErrKeyValue", err)
	}
}

func FuzzIndexDecode(f *testing.F) {
	c := indexedCatalog(f)
	acc, _ := c.Lookup("Account")
	var all []*schema.Index
	all = append(all, acc.AllIndexes...)
	m := &testpb.Account{Org: "o", AccountId: 9, Email: proto.String("e\x00"), Age: -3, Tags: []string{"t"}}
	rk := acc.RowKeyOf(nil, m.ProtoReflect())
	for i, x := range acc.Indexes {
		for _, e := range x.Keys(nil, rk, 0, m.ProtoReflect()) {
			f.Add(uint8(i), e[0][len(x.AppendPrefix(nil, nil)):], e[1])
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, rest, val []byte) {
		x := all[int(which)%len(all)]
		vals, target, err := x.DecodeEntry(rest, val)
		if err != nil {
			return
		}
		// A decoded entry re-encodes to the same bytes.
		key, v := x.Entry(nil, vals, target)
		if x.Unique {
			if !bytes.Equal(key, rest) || !bytes.Equal(v, val) {
				t.Fatalf("re-encoded %x → %x, want %x → %x", key, v, rest, val)
			}
		} else if !bytes.Equal(key, rest) || len(v) != 0 {
			t.Fatalf("re-encoded %x, want %x", key, rest)
		}
	})
}

func TestDescribeKeysIndexedGolden(t *testing.T) {
	golden.File(t, "testdata/describe-keys-indexed.golden", []byte(indexedCatalog(t).DescribeKeys()))
}

func TestCheckCompatibleIndexes(t *testing.T) {
	t.Parallel()
	const base = `message U {
  option (protoql.v1.table) = {id: 1, key: ["id"], index: [{name: "by_a", id: 1, fields: ["a"]}]};
  string id = 1;
  int64 a = 2;
  int64 b = 3;
  map<string, S> m = 4 [(protoql.v1.field) = {index: [{name: "by_x", id: 1, fields: ["x"], unique: true}]}];
}
message S { int64 x = 1; int64 y = 2; }
`
	tests := []struct {
		name, next string
		want       string // "" = compatible
	}{
		{"same", base, ""},
		{"renamed", strings.Replace(base, `"by_a"`, `"a_index"`, 1), ""},
		{"dropped", strings.Replace(base, `index: [{name: "by_a", id: 1, fields: ["a"]}]`, "", 1), ""},
		{"added", strings.Replace(base, `fields: ["a"]}`, `fields: ["a"]}, {name: "by_b", id: 2, fields: ["b"]}`, 1), ""},
		{"new id for new fields", strings.Replace(base, `{name: "by_a", id: 1, fields: ["a"]}`, `{name: "by_a", id: 2, fields: ["b"]}`, 1), ""},
		{"fields changed", strings.Replace(base, `fields: ["a"]`, `fields: ["b"]`, 1), "index U.by_a (id 1) had fields (2:int) and now has (3:int)"},
		{"direction changed", strings.Replace(base, `fields: ["a"]`, `fields: ["a"], descending: ["a"]`, 1), "index U.by_a (id 1) had fields (2:int) and now has (2:int desc)"},
		{"unique dropped", strings.Replace(base, `unique: true`, ``, 1), "index U.m.by_x (id 1) had fields (1:int unique) and now has (1:int)"},
	}
	old, err := compile(t, header+base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := compile(t, header+tt.next)
			if err != nil {
				t.Fatal(err)
			}
			err = schema.CheckCompatible(old, next)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want compatible", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !errors.Is(err, schema.ErrIncompatible):
				t.Errorf("error %v does not wrap ErrIncompatible", err)
			}
		})
	}
}

// TestIndexKeysFresh: every entry Keys returns is its own: its key and
// value are what Entry makes of Values, share no bytes with the row key
// passed in, and appending to one (the key and value of a unique entry are
// cut from one buffer) leaves the other, and the next entry, unchanged.
// An entry of an index without a repeated column costs two allocations,
// the result and one buffer for the key and the value.
func TestIndexKeysFresh(t *testing.T) {
	c := indexedCatalog(t)
	acc, _ := c.Lookup("Account")
	m := (&testpb.Account{Org: "o", AccountId: 7, Email: proto.String("a@b.c"), Age: 30, Name: "n", Tags: []string{"x", "y", "x"}, State: testpb.AccountState_ACCOUNT_STATE_ACTIVE, LastSeenUs: -5}).ProtoReflect()
	ns := []byte{0x02, 0x14, 'n', 0, 0}
	rowKey := acc.RowKeyOf(ns, m)
	for _, x := range acc.Indexes {
		var want [][2][]byte
		for _, vals := range x.Values(m) {
			k, v := x.Entry(x.AppendPrefix(bytes.Clone(ns), nil), vals, x.Target(rowKey[len(ns):], 0))
			want = append(want, [2][]byte{k, bytes.Clone(v)})
		}
		rk := bytes.Clone(rowKey)
		got := x.Keys(ns, rk, 0, m)
		clear(rk) // the caller reuses its buffer
		for i := range got {
			_ = append(got[i][0], 0xEE, 0xEE, 0xEE)
			_ = append(got[i][1], 0xDD, 0xDD, 0xDD)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d", x.Path(), len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i][0], want[i][0]) || !bytes.Equal(got[i][1], want[i][1]) || (got[i][1] == nil) != (want[i][1] == nil) {
				t.Errorf("%s: entry %d = %x → %x, want %x → %x", x.Path(), i, got[i][0], got[i][1], want[i][0], want[i][1])
			}
		}
		if x.Repeated >= 0 || raceEnabled {
			continue
		}
		if n := testing.AllocsPerRun(100, func() { _ = x.Keys(ns, rowKey, 0, m) }); n > 2 {
			t.Errorf("%s: Keys made %.1f allocations, want 2", x.Path(), n)
		}
	}
}
