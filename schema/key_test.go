package schema_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// keysSrc has a table keyed by every key kind, ascending and descending,
// and maps keyed by each map key kind.
const keysSrc = header + `
enum E { E_ZERO = 0; E_ONE = 1; }
message K {
  option (protoql.v1.table) = {id: 7, key: ["b", "bd", "i32", "s64", "sf32", "u32", "f64", "u64", "s", "sd", "y", "yd", "e", "ed"]};
  bool b = 1;
  bool bd = 2 [(protoql.v1.field).descending = true];
  int32 i32 = 3;
  sint64 s64 = 4 [(protoql.v1.field).descending = true];
  sfixed32 sf32 = 5 [(protoql.v1.field).descending = true];
  uint32 u32 = 6;
  fixed64 f64 = 7 [(protoql.v1.field).descending = true];
  uint64 u64 = 8;
  string s = 9;
  string sd = 10 [(protoql.v1.field).descending = true];
  bytes y = 11;
  bytes yd = 12 [(protoql.v1.field).descending = true];
  E e = 13;
  E ed = 14 [(protoql.v1.field).descending = true];
  map<int32, string> mi = 20 [(protoql.v1.field).descending = true];
  map<uint64, string> mu = 21;
  map<bool, string> mb = 22;
  map<string, string> ms = 23 [(protoql.v1.field).descending = true];
}
`

// keyColumns returns every column of keysSrc: the table's, then the maps'.
func keyColumns(t testing.TB) []*schema.Column {
	t.Helper()
	c, err := compile(t, keysSrc)
	if err != nil {
		t.Fatal(err)
	}
	tab := c.Table(7)
	cols := append([]*schema.Column(nil), tab.Key...)
	for _, f := range tab.Root.Children {
		cols = append(cols, f.Key)
	}
	return cols
}

// sortedValues returns values of col's type in ascending value order,
// including the extremes of its range.
func sortedValues(col *schema.Column) []protoreflect.Value {
	var out []protoreflect.Value
	switch col.Field.Kind() {
	case protoreflect.BoolKind:
		out = append(out, protoreflect.ValueOfBool(false), protoreflect.ValueOfBool(true))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		for _, n := range []int32{math.MinInt32, -121, -1, 0, 1, 119, math.MaxInt32} {
			out = append(out, protoreflect.ValueOfInt32(n))
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		for _, n := range []int64{math.MinInt64, math.MinInt32 - 1, -121, -1, 0, 1, 119, 1 << 40, math.MaxInt64} {
			out = append(out, protoreflect.ValueOfInt64(n))
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		for _, n := range []uint32{0, 1, 247, 248, 256, math.MaxUint32} {
			out = append(out, protoreflect.ValueOfUint32(n))
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		for _, n := range []uint64{0, 1, 248, 1 << 56, math.MaxUint64} {
			out = append(out, protoreflect.ValueOfUint64(n))
		}
	case protoreflect.EnumKind:
		for _, n := range []protoreflect.EnumNumber{math.MinInt32, -1, 0, 1, 2, math.MaxInt32} {
			out = append(out, protoreflect.ValueOfEnum(n))
		}
	case protoreflect.StringKind:
		for _, s := range []string{"", "\x00", "\x00\x00", "\x00\xff", "a", "a\x00", "ab", "b", "\xff", "\xff\xff"} {
			out = append(out, protoreflect.ValueOfString(s))
		}
	case protoreflect.BytesKind:
		for _, s := range []string{"", "\x00", "\x00\x00", "\x00\xff", "a", "a\x00", "ab", "b", "\xff", "\xff\xff"} {
			out = append(out, protoreflect.ValueOfBytes([]byte(s)))
		}
	}
	return out
}

func sameValue(a, b protoreflect.Value) bool {
	if x, ok := a.Interface().([]byte); ok {
		y, ok := b.Interface().([]byte)
		return ok && bytes.Equal(x, y)
	}
	return a.Interface() == b.Interface()
}

// TestColumnRoundTrip: every value of every key kind, ascending and
// descending, decodes back to itself from its element, and the element's
// length is what Decode and Skip report; a string that is not UTF-8 in a
// column whose field requires UTF-8 is refused by Decode.
func TestColumnRoundTrip(t *testing.T) {
	t.Parallel()
	prefix := tuple.AppendUnit(nil, 7)
	for _, col := range keyColumns(t) {
		for _, v := range sortedValues(col) {
			if err := col.Check(v); err != nil {
				t.Fatalf("%s: Check(%v) = %v", col.Name(), v, err)
			}
			key := col.Append(prefix[:len(prefix):len(prefix)], v)
			elem := key[len(prefix):]
			got, n, err := col.Decode(elem)
			if col.UTF8 && !utf8.ValidString(v.String()) {
				// Stored only by corruption or a foreign writer: the
				// value could not be marshalled.
				if !errors.Is(err, schema.ErrKeyValue) {
					t.Errorf("%s: Decode(Append(%q)) = %v, %v; want an error wrapping ErrKeyValue (not UTF-8)", col.Name(), v.String(), got, err)
				}
			} else if err != nil || n != len(elem) || !sameValue(got, v) {
				t.Errorf("%s: Decode(Append(%v)) = %v, %d, %v; want the value, %d", col.Name(), v, got, n, err, len(elem))
			}
			if n, err := col.Skip(elem); err != nil || n != len(elem) {
				t.Errorf("%s: Skip(Append(%v)) = %d, %v; want %d", col.Name(), v, n, err, len(elem))
			}
			if e, _, err := tuple.DecodeElement(elem); err != nil || e.Field != col.Num || e.Kind != col.Kind {
				t.Errorf("%s: element of %v is %v (%v), want field %d kind %s", col.Name(), v, e, err, col.Num, col.Kind)
			}
		}
	}
}

// TestColumnOrder: elements sort as their values do, in reverse for a
// descending column.
func TestColumnOrder(t *testing.T) {
	t.Parallel()
	for _, col := range keyColumns(t) {
		vals := sortedValues(col)
		for i := 1; i < len(vals); i++ {
			a, b := col.Append(nil, vals[i-1]), col.Append(nil, vals[i])
			want := -1
			if col.Dir == tuple.Desc {
				want = 1
			}
			if got := bytes.Compare(a, b); got != want {
				t.Errorf("%s (%v): Compare(elem(%v), elem(%v)) = %d, want %d", col.Name(), col.Dir, vals[i-1], vals[i], got, want)
			}
		}
	}
}

// TestColumnRange: a key under the prefix is within Range's bounds
// exactly when its value is in [lower, upper), for every pair of bounds
// (open or not) of every column; keys of other columns and outside the
// prefix never are.
func TestColumnRange(t *testing.T) {
	t.Parallel()
	prefix := tuple.AppendString(tuple.AppendUnit(nil, 7), 1, tuple.Asc, "p")
	for _, col := range keyColumns(t) {
		vals := sortedValues(col)
		// Index -1 is an open bound.
		for lower := -1; lower < len(vals); lower++ {
			for upper := -1; upper < len(vals); upper++ {
				var lv, uv protoreflect.Value
				if lower >= 0 {
					lv = vals[lower]
				}
				if upper >= 0 {
					uv = vals[upper]
				}
				lo, hi := col.Range(prefix, lv, uv)
				for i, v := range vals {
					// A child key below the element is in the range with it.
					key := tuple.AppendUnit(col.Append(prefix, v), 3)
					want := (lower < 0 || i >= lower) && (upper < 0 || i < upper)
					if got := bytes.Compare(lo, key) <= 0 && bytes.Compare(key, hi) < 0; got != want {
						t.Errorf("%s (%v) range [%v, %v): key of %v inside = %v, want %v", col.Name(), col.Dir, lv, uv, v, got, want)
					}
				}
				for _, out := range [][]byte{
					tuple.AppendUnit(prefix, col.Num+1),
					tuple.AppendUnit(prefix, col.Num), // the same field number, another kind
					tuple.AppendString(tuple.AppendUnit(nil, 7), 1, tuple.Asc, "q"),
					tuple.AppendString(tuple.AppendUnit(nil, 7), 1, tuple.Asc, "o"),
				} {
					if bytes.Compare(lo, out) <= 0 && bytes.Compare(out, hi) < 0 {
						t.Errorf("%s range [%v, %v) holds the foreign key %s", col.Name(), lv, uv, tuple.Format(out))
					}
				}
			}
		}
	}
	if got := prefix; !bytes.Equal(got, tuple.AppendString(tuple.AppendUnit(nil, 7), 1, tuple.Asc, "p")) {
		t.Errorf("Range modified its prefix: %x", got)
	}
}

// TestColumnRefuses: elements and values that do not fit a column are
// errors wrapping ErrKeyValue, never a wrong value or a panic.
func TestColumnRefuses(t *testing.T) {
	t.Parallel()
	byName := map[string]*schema.Column{}
	for _, col := range keyColumns(t) {
		byName[col.Name()] = col
	}
	i32, s64, e, y := byName["i32"], byName["s64"], byName["e"], byName["y"]
	elems := []struct {
		col  *schema.Column
		elem []byte
	}{
		{i32, tuple.AppendInt(nil, 3, tuple.Asc, math.MaxInt32+1)},
		{i32, tuple.AppendInt(nil, 3, tuple.Asc, math.MinInt32-1)},
		{e, tuple.AppendInt(nil, 13, tuple.Asc, 1<<40)},
		{byName["u32"], tuple.AppendUint(nil, 6, tuple.Asc, math.MaxUint32+1)},
		{s64, tuple.AppendInt(nil, 4, tuple.Asc, 5)}, // ascending element in a descending column
		{i32, tuple.AppendInt(nil, 4, tuple.Asc, 5)}, // another field number
		{y, tuple.AppendString(nil, 11, tuple.Asc, "x")},
		{i32, []byte{}},
		{i32, tuple.AppendInt(nil, 3, tuple.Asc, 1<<20)[:2]},
	}
	for _, c := range elems {
		if v, _, err := c.col.Decode(c.elem); !errors.Is(err, schema.ErrKeyValue) {
			t.Errorf("%s: Decode(%x) = %v, %v; want ErrKeyValue", c.col.Name(), c.elem, v, err)
		}
	}
	if _, _, err := i32.Decode([]byte{0x33}); !errors.Is(err, tuple.ErrMalformed) {
		t.Errorf("Decode of a cut element: %v, want tuple.ErrMalformed too", err)
	}
	if _, err := s64.Skip(tuple.AppendInt(nil, 4, tuple.Asc, 5)); !errors.Is(err, schema.ErrKeyValue) {
		t.Errorf("Skip of the wrong kind: %v, want ErrKeyValue", err)
	}
	values := []struct {
		col *schema.Column
		v   protoreflect.Value
	}{
		{i32, protoreflect.ValueOfInt64(1)},
		{i32, protoreflect.ValueOfUint32(1)},
		{i32, protoreflect.ValueOfEnum(1)},
		{e, protoreflect.ValueOfInt32(1)},
		{s64, protoreflect.ValueOfInt32(1)},
		{byName["u64"], protoreflect.ValueOfUint32(1)},
		{y, protoreflect.ValueOfString("x")},
		{byName["s"], protoreflect.ValueOfBytes(nil)},
		{byName["b"], protoreflect.ValueOfString("true")},
		{byName["b"], protoreflect.Value{}},
	}
	for _, c := range values {
		if err := c.col.Check(c.v); !errors.Is(err, schema.ErrKeyValue) {
			t.Errorf("%s: Check(%T) = %v, want ErrKeyValue", c.col.Name(), c.v.Interface(), err)
		}
	}
}

// TestCheckTypes: Check accepts a value of every Go type protoreflect
// holds exactly when the Go type is its column's (the rule written here
// with Interface, as Check was before it stopped boxing), and its error
// names the field, its kind and the value's Go type.
func TestCheckTypes(t *testing.T) {
	t.Parallel()
	values := []protoreflect.Value{
		protoreflect.ValueOfBool(true), protoreflect.ValueOfBool(false),
		protoreflect.ValueOfEnum(1), protoreflect.ValueOfEnum(0),
		protoreflect.ValueOfInt32(-7), protoreflect.ValueOfInt32(math.MaxInt32),
		protoreflect.ValueOfInt64(-7), protoreflect.ValueOfInt64(1 << 40),
		protoreflect.ValueOfUint32(7), protoreflect.ValueOfUint32(math.MaxUint32),
		protoreflect.ValueOfUint64(7), protoreflect.ValueOfUint64(math.MaxUint64),
		protoreflect.ValueOfFloat32(1.5), protoreflect.ValueOfFloat64(-2),
		protoreflect.ValueOfString("x"), protoreflect.ValueOfString(""),
		protoreflect.ValueOfString("true"), protoreflect.ValueOfString("7"),
		protoreflect.ValueOfBytes([]byte("x")), protoreflect.ValueOfBytes(nil),
		protoreflect.ValueOfMessage((&testpb.Account{Email: new(string)}).ProtoReflect()),
	}
	for _, col := range keyColumns(t) {
		kind := col.Field.Kind()
		for _, v := range values {
			var want bool
			switch v.Interface().(type) {
			case bool:
				want = kind == protoreflect.BoolKind
			case protoreflect.EnumNumber:
				want = kind == protoreflect.EnumKind
			case int32:
				want = kind == protoreflect.Int32Kind || kind == protoreflect.Sint32Kind || kind == protoreflect.Sfixed32Kind
			case int64:
				want = kind == protoreflect.Int64Kind || kind == protoreflect.Sint64Kind || kind == protoreflect.Sfixed64Kind
			case uint32:
				want = kind == protoreflect.Uint32Kind || kind == protoreflect.Fixed32Kind
			case uint64:
				want = kind == protoreflect.Uint64Kind || kind == protoreflect.Fixed64Kind
			case string:
				want = kind == protoreflect.StringKind
			case []byte:
				want = kind == protoreflect.BytesKind
			}
			err := col.Check(v)
			if want {
				if err != nil {
					t.Errorf("%s (%s): Check(%T %v) = %v, want nil", col.Name(), kind, v.Interface(), v, err)
				}
				continue
			}
			msg := fmt.Sprintf("%v: %s is a %s, got a %T", schema.ErrKeyValue, col.Field.Name(), kind, v.Interface())
			if !errors.Is(err, schema.ErrKeyValue) || err.Error() != msg {
				t.Errorf("%s (%s): Check(%T %v) = %v, want %q", col.Name(), kind, v.Interface(), v, err, msg)
			}
		}
		if err := col.Check(protoreflect.Value{}); !errors.Is(err, schema.ErrKeyValue) || err.Error() != schema.ErrKeyValue.Error()+": missing value for "+string(col.Field.Name()) {
			t.Errorf("%s: Check of no value = %v", col.Name(), err)
		}
	}
}

// TestCheckAllocs: Check of a value of the column's type does not box it
// (Interface allocates for a string and most integers: an allocation on
// every key value a read or write is given).
func TestCheckAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	for _, col := range keyColumns(t) {
		for _, v := range sortedValues(col) {
			if got := testing.AllocsPerRun(20, func() {
				if err := col.Check(v); err != nil {
					t.Fatal(err)
				}
			}); got != 0 {
				t.Errorf("%s: Check(%v): %.0f allocations, want 0", col.Name(), v, got)
			}
		}
	}
}

// TestAppendFrom: a join source of another type with the column's tuple
// kind encodes as the column's own value would.
func TestAppendFrom(t *testing.T) {
	t.Parallel()
	c, err := compile(t, keysSrc)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Table(7).Desc.Fields()
	byName := map[string]*schema.Column{}
	for _, col := range c.Table(7).Key {
		byName[col.Name()] = col
	}
	s64, e := byName["s64"], byName["e"]
	if got, want := s64.AppendFrom(nil, k.ByName("e"), protoreflect.ValueOfEnum(-3)), s64.Append(nil, protoreflect.ValueOfInt64(-3)); !bytes.Equal(got, want) {
		t.Errorf("enum -3 into sint64: %x, want %x", got, want)
	}
	if got, want := s64.AppendFrom(nil, k.ByName("i32"), protoreflect.ValueOfInt32(-3)), s64.Append(nil, protoreflect.ValueOfInt64(-3)); !bytes.Equal(got, want) {
		t.Errorf("int32 -3 into sint64: %x, want %x", got, want)
	}
	if got, want := e.AppendFrom(nil, k.ByName("s64"), protoreflect.ValueOfInt64(1)), e.Append(nil, protoreflect.ValueOfEnum(1)); !bytes.Equal(got, want) {
		t.Errorf("int64 1 into enum: %x, want %x", got, want)
	}
}

// TestAfter: resuming after an object skips it and everything under it
// forward, and everything from it on in reverse.
func TestAfter(t *testing.T) {
	t.Parallel()
	row := func(s string) []byte { return tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, s) }
	lo, hi := tuple.AppendUnit(nil, 1), tuple.PrefixEnd(tuple.AppendUnit(nil, 1))
	child := tuple.AppendUnit(row("b"), 3)
	for _, c := range []struct {
		pos     []byte
		reverse bool
		in, out [][]byte
		ok      bool
	}{
		{row("b"), false, [][]byte{row("c"), row("b\x00")}, [][]byte{row("b"), child, row("a")}, true},
		{row("b"), true, [][]byte{row("a"), row("")}, [][]byte{row("b"), child, row("c")}, true},
		{row("a"), true, [][]byte{row("")}, [][]byte{row("a"), row("b")}, true},
		{lo, true, nil, nil, false},
		{hi, false, nil, nil, false},
		{[]byte{0xff, 0xff}, false, nil, nil, false},
	} {
		nlo, nhi, ok := schema.After(lo, hi, c.pos, c.reverse)
		if ok != c.ok {
			t.Errorf("After(%s, reverse %v): ok = %v, want %v", tuple.Format(c.pos), c.reverse, ok, c.ok)
			continue
		}
		inside := func(k []byte) bool { return bytes.Compare(nlo, k) <= 0 && bytes.Compare(k, nhi) < 0 }
		for _, k := range c.in {
			if !inside(k) {
				t.Errorf("After(%s, reverse %v) = [%x, %x) lacks %s", tuple.Format(c.pos), c.reverse, nlo, nhi, tuple.Format(k))
			}
		}
		for _, k := range c.out {
			if inside(k) {
				t.Errorf("After(%s, reverse %v) = [%x, %x) holds %s", tuple.Format(c.pos), c.reverse, nlo, nhi, tuple.Format(k))
			}
		}
	}
	// A position outside the bounds leaves them as they are.
	if nlo, nhi, ok := schema.After(row("m"), row("p"), row("b"), false); !ok || !bytes.Equal(nlo, row("m")) || !bytes.Equal(nhi, row("p")) {
		t.Errorf("After a position below the range, forward = [%x, %x) %v, want the range", nlo, nhi, ok)
	}
	if nlo, nhi, ok := schema.After(row("m"), row("p"), row("x"), true); !ok || !bytes.Equal(nlo, row("m")) || !bytes.Equal(nhi, row("p")) {
		t.Errorf("After a position above the range, reverse = [%x, %x) %v, want the range", nlo, nhi, ok)
	}
	if _, _, ok := schema.After(lo, nil, []byte{0xff}, true); !ok {
		t.Errorf("After with an open upper bound in reverse: nothing left, want the keys below the position")
	}
}

// TestLocate resolves keys built element by element (not by the codec)
// to paths, including prefixes of row keys and keys that do not resolve.
func TestLocate(t *testing.T) {
	t.Parallel()
	cat, err := schema.Compile(testpb.File_protoql_test_v1_social_proto)
	if err != nil {
		t.Fatal(err)
	}
	user := tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, "alice")
	entry := tuple.AppendString(append([]byte(nil), user...), 5, tuple.Asc, "s1")
	inbox := tuple.AppendInt(tuple.AppendInt(tuple.AppendString(tuple.AppendUnit(nil, 3), 1, tuple.Asc, "bob"), 2, tuple.Asc, 1), 3, tuple.Desc, -7)
	for _, c := range []struct {
		key        []byte
		path       string
		resolveErr bool
		locateErr  bool
		rowLen     int
		leaf       string
	}{
		{user, `User["alice"]`, false, false, len(user), ""},
		{entry, `User["alice"].sessions["s1"]`, false, false, len(user), ""},
		{tuple.AppendString(append([]byte(nil), entry...), 3, tuple.Asc, "ip"), `User["alice"].sessions["s1"].attrs["ip"]`, false, false, len(user), "attrs"},
		{tuple.AppendUnit(append([]byte(nil), entry...), 4), `User["alice"].sessions["s1"].geo`, false, false, len(user), ""},
		{tuple.AppendUnit(append([]byte(nil), user...), 3), `User["alice"].last_seen_us`, false, false, len(user), "last_seen_us"},
		{tuple.AppendInt(append([]byte(nil), user...), 15, tuple.Desc, -2), `User["alice"].scores[-2]`, false, false, len(user), "scores"},
		{inbox, `Inbox["bob", 1, -7]`, false, false, len(inbox), ""},
		{tuple.AppendUnit(nil, 4), `Config[]`, false, false, 1, ""},
		{tuple.AppendUnit(nil, 1), `User[…]`, true, false, 0, ""},
		{inbox[:len(inbox)-2], `Inbox["bob", 1, …]`, true, false, 0, ""},
		{tuple.AppendUnit(append([]byte(nil), user...), 99), `User["alice"]`, true, true, len(user), ""},
		{tuple.AppendUnit(tuple.AppendUnit(append([]byte(nil), user...), 3), 1), `User["alice"].last_seen_us`, true, true, len(user), "last_seen_us"},
		{tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Desc, "alice"), `User[…]`, true, true, 0, ""},
	} {
		elems, _, err := schema.DecodeKey(c.key)
		if err != nil {
			t.Fatal(err)
		}
		loc, lerr := cat.Locate(elems)
		if (lerr != nil) != c.locateErr || (lerr != nil && !errors.Is(lerr, schema.ErrUnresolved)) {
			t.Errorf("Locate(%s) error = %v, want error %v", tuple.Format(c.key), lerr, c.locateErr)
		}
		if loc == nil || loc.String() != c.path {
			t.Errorf("Locate(%s) = %v, want %s", tuple.Format(c.key), loc, c.path)
			continue
		}
		rloc, rerr := cat.Resolve(c.key)
		if (rerr != nil) != c.resolveErr || (rerr != nil && !errors.Is(rerr, schema.ErrUnresolved)) {
			t.Errorf("Resolve(%s) error = %v, want error %v", tuple.Format(c.key), rerr, c.resolveErr)
		}
		if rloc.RowLen != c.rowLen {
			t.Errorf("Resolve(%s).RowLen = %d, want %d", tuple.Format(c.key), rloc.RowLen, c.rowLen)
		}
		if leaf := ""; rloc.Leaf != nil || c.leaf != "" {
			if rloc.Leaf != nil {
				leaf = string(rloc.Leaf.Name())
			}
			if leaf != c.leaf {
				t.Errorf("Resolve(%s).Leaf = %s, want %s", tuple.Format(c.key), leaf, c.leaf)
			}
		}
		if lerr != nil && loc.Resolved() >= len(loc.Elems) {
			t.Errorf("Locate(%s) failed but resolved all %d elements", tuple.Format(c.key), len(loc.Elems))
		}
	}
	if _, err := cat.Resolve([]byte{0x33}); !errors.Is(err, schema.ErrUnresolved) {
		t.Errorf("Resolve of a malformed key: %v, want ErrUnresolved", err)
	}
	if loc, err := cat.Locate(nil); loc != nil || !errors.Is(err, schema.ErrUnresolved) {
		t.Errorf("Locate(nil) = %v, %v; want ErrUnresolved", loc, err)
	}
	elems, _, _ := schema.DecodeKey(entry)
	loc, _ := cat.Locate(elems)
	got := loc.Format(func(c *schema.Column, e tuple.Element) string {
		return c.Name() + "=" + strings.ToUpper(string(e.Bytes))
	})
	if want := `User[user_id=ALICE].sessions[key=S1]`; got != want {
		t.Errorf("Format with a renderer = %s, want %s", got, want)
	}
}

// TestLocateApart resolves keys of fields stored apart: the apart element
// names the table and the field, the field's element must follow the row's
// columns, and the same field's key under the row is refused.
func TestLocateApart(t *testing.T) {
	t.Parallel()
	cat, err := schema.Compile(apartpb.File_protoql_test_apart_v1_apart_proto)
	if err != nil {
		t.Fatal(err)
	}
	row := tuple.AppendString(tuple.AppendUnit(nil, 20), 1, tuple.Asc, "alice")
	apart := func(f uint64) []byte {
		return tuple.AppendString(tuple.AppendUint(nil, 20, tuple.Asc, f), 1, tuple.Asc, "alice")
	}
	entry := tuple.AppendString(apart(5), 5, tuple.Asc, "s1")
	for _, c := range []struct {
		key    []byte
		path   string
		err    bool
		rowLen int
		apart  string
	}{
		{entry, `ApartUser["alice"].sessions["s1"]`, false, len(apart(5)), "sessions"},
		{tuple.AppendUnit(append([]byte(nil), entry...), 4), `ApartUser["alice"].sessions["s1"].geo`, false, len(apart(5)), "sessions"},
		{tuple.AppendUnit(apart(4), 4), `ApartUser["alice"].password`, false, len(apart(4)), "password"},
		{tuple.AppendString(apart(11), 11, tuple.Asc, "c"), `ApartUser["alice"].counters["c"]`, false, len(apart(11)), "counters"},
		{apart(5), `ApartUser["alice"]`, true, len(apart(5)), "sessions"},                                    // ends before the field
		{tuple.AppendUnit(apart(5), 3), `ApartUser["alice"]`, true, len(apart(5)), "sessions"},               // another field in sessions' space
		{tuple.AppendString(bytes.Clone(row), 5, tuple.Asc, "s1"), `ApartUser["alice"]`, true, len(row), ""}, // sessions under the row
		{tuple.AppendUnit(bytes.Clone(row), 3), `ApartUser["alice"].last_seen_us`, false, len(row), ""},      // colocated breakout
		{tuple.AppendUnit(tuple.AppendUint(nil, 21, tuple.Asc, 2), 2), `Feed[]`, true, 4, "items"},           // a map element of the wrong kind
		{tuple.AppendUint(tuple.AppendUint(nil, 21, tuple.Asc, 2), 2, tuple.Asc, 7), `Feed[].items[7]`, false, 4, "items"},
	} {
		loc, err := cat.Resolve(c.key)
		if (err != nil) != c.err || (err != nil && !errors.Is(err, schema.ErrUnresolved)) {
			t.Errorf("Resolve(%s) error = %v, want error %v", tuple.Format(c.key), err, c.err)
		}
		if loc == nil {
			t.Errorf("Resolve(%s) = nil", tuple.Format(c.key))
			continue
		}
		if loc.String() != c.path {
			t.Errorf("Resolve(%s) = %s, want %s", tuple.Format(c.key), loc, c.path)
		}
		if loc.RowLen != c.rowLen {
			t.Errorf("Resolve(%s).RowLen = %d, want %d", tuple.Format(c.key), loc.RowLen, c.rowLen)
		}
		if got := ""; loc.Apart != nil || c.apart != "" {
			if loc.Apart != nil {
				got = string(loc.Apart.Name())
			}
			if got != c.apart {
				t.Errorf("Resolve(%s).Apart = %s, want %s", tuple.Format(c.key), got, c.apart)
			}
		}
	}
	// A field that is not stored apart has no apart space.
	if _, err := cat.Resolve(tuple.AppendUnit(tuple.AppendString(tuple.AppendUint(nil, 20, tuple.Asc, 3), 1, tuple.Asc, "a"), 3)); !errors.Is(err, schema.ErrUnresolved) {
		t.Errorf("Resolve of an apart key of a colocated field: %v, want ErrUnresolved", err)
	}
}
