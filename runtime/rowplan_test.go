package runtime_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// openScalars opens a DB of the Scalars table (every scalar kind).
func openScalars(t testing.TB, store kv.Store) *runtime.DB {
	t.Helper()
	db, err := runtime.Open(context.Background(), store, runtime.WithSchema(testpb.File_protoql_test_v1_scalars_proto))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// planFields are the Scalars fields the row plan decodes itself.
var planFields = []string{"b", "i32", "s32", "sf32", "i64", "s64", "sf64", "u32", "f32", "u64", "f64", "fl", "db", "s", "by", "level", "name", "n", "tag"}

// randomScalars returns a Scalars with random values, edge values likely:
// negative int32s (ten-byte varints), NaNs with payloads, -0.0, empty and
// non-ASCII strings.
func randomScalars(r *rand.Rand) *testpb.Scalars {
	i32 := func() int32 { return []int32{0, -1, 1, math.MinInt32, math.MaxInt32, r.Int32()}[r.IntN(6)] }
	i64 := func() int64 { return []int64{0, -1, 1, math.MinInt64, math.MaxInt64, r.Int64()}[r.IntN(6)] }
	u64 := func() uint64 { return []uint64{0, 1, math.MaxUint64, r.Uint64()}[r.IntN(4)] }
	str := func() string { return []string{"", "a", "é", "a\x00b", "user-00042"}[r.IntN(5)] }
	byt := func() []byte { return [][]byte{nil, {0}, {0xff, 0xfe}, []byte("xyz")}[r.IntN(4)] }
	fl := []float32{0, float32(math.Copysign(0, -1)), 1.5, math.Float32frombits(0x7fa00001), math.Float32frombits(0xffc00002)}
	db := []float64{0, math.Copysign(0, -1), 2.25, math.Float64frombits(0x7ff4000000000001), math.Inf(-1)}
	m := &testpb.Scalars{
		Name: str(), N: i32(), Tag: byt(),
		B: r.IntN(2) == 0, I32: i32(), S32: i32(), Sf32: i32(),
		I64: i64(), S64: i64(), Sf64: i64(),
		U32: uint32(u64()), F32: uint32(u64()), U64: u64(), F64: u64(),
		Fl: fl[r.IntN(len(fl))], Db: db[r.IntN(len(db))],
		S: str(), By: byt(), Level: testpb.Level(i32()),
	}
	if r.IntN(3) == 0 {
		m.Opt = proto.String(str())
	}
	if r.IntN(3) == 0 {
		m.Nums = []int32{i32(), i32()}
	}
	switch r.IntN(3) {
	case 0:
		m.Choice = &testpb.Scalars_Left{Left: str()}
	case 1:
		m.Choice = &testpb.Scalars_Right{Right: i64()}
	}
	return m
}

// mutateWire returns b changed the ways stored bytes may differ from
// what Marshal writes: fields repeated (the last one wins), unknown
// fields, wire types other than the field's, a string that is not valid
// UTF-8, int32s as five-byte varints, packed and unpacked repeated
// fields, truncation.
func mutateWire(r *rand.Rand, b []byte) []byte {
	b = bytes.Clone(b)
	for range r.IntN(4) {
		num := protowire.Number(1 + r.IntN(24))
		switch r.IntN(10) {
		case 0: // a varint field again (or under a wrong wire type)
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, r.Uint64()>>r.IntN(64))
		case 1:
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, r.Uint32())
		case 2:
			b = protowire.AppendTag(b, num, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, r.Uint64())
		case 3:
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, [][]byte{{}, []byte("ok"), {0xc3, 0x28}, {0xff}}[r.IntN(4)])
		case 4: // unknown field
			b = protowire.AppendTag(b, protowire.Number(100+r.IntN(5)), protowire.VarintType)
			b = protowire.AppendVarint(b, 7)
		case 5: // a negative int32 in five bytes rather than ten
			b = protowire.AppendTag(b, 5, protowire.VarintType)
			b = append(b, 0xff, 0xff, 0xff, 0xff, 0x0f)
		case 6: // repeated nums unpacked, then packed
			b = protowire.AppendTag(b, 21, protowire.VarintType)
			b = protowire.AppendVarint(b, 3)
			b = protowire.AppendTag(b, 21, protowire.BytesType)
			b = protowire.AppendBytes(b, []byte{1, 2})
		case 7:
			if len(b) > 0 {
				b = b[:r.IntN(len(b))]
			}
		case 9: // fixed32 bytes that also read as a four-byte varint
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			b = append(b, 0x80, 0x80, 0x80, 0x01)
		case 8: // an overlong varint
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = append(b, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)
		}
	}
	return b
}

// keepFields returns the fields of wire that fields name, as the scan's
// filter keeps them (up to the first malformed field).
func keepFields(tbl *runtime.Table, fields []string, wire []byte) []byte {
	md := tbl.Schema().Desc
	var out []byte
	for b := wire; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[n:])
		if vn < 0 {
			break
		}
		if fd := md.Fields().ByNumber(num); fd != nil && slices.Contains(fields, string(fd.Name())) {
			out = append(out, b[:n+vn]...)
		}
		b = b[n+vn:]
	}
	return out
}

// checkRowPlan compares the row plan's decode of key and wire with what
// it stands for: proto.Unmarshal of wire, then the key columns set with
// protoreflect. Where the plan decodes, the result must be the same
// message, bit for bit; where it declines, nothing is compared (the scan
// then decodes the generic way). It reports whether the plan decoded.
func checkRowPlan(t testing.TB, tbl *runtime.Table, fields []string, key, wire []byte) bool {
	t.Helper()
	got, ok, err := runtime.RowPlanDecodeForTest(tbl, fields, key, wire)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return false
	}
	want := &testpb.Scalars{}
	if err := proto.Unmarshal(wire, want); err != nil {
		t.Fatalf("the row plan decoded %x, which proto.Unmarshal refuses: %v", wire, err)
	}
	rest := key[len(runtime.KeyPrefixForTest(tbl)):]
	for _, col := range tbl.Schema().Key {
		v, n, err := col.Decode(rest)
		if err != nil {
			t.Fatalf("the row plan decoded key %x, whose column %s does not decode: %v", key, col.Name(), err)
		}
		want.ProtoReflect().Set(col.Field, v)
		rest = rest[n:]
	}
	if !proto.Equal(got, want) {
		t.Fatalf("wire %x key %x:\nrow plan  %v\nUnmarshal %v", wire, key, got, want)
	}
	gb, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(got)
	wb, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(want)
	if err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
		t.Fatalf("wire %x key %x: the row plan's result marshals to %x (%v), Unmarshal's to %x (%v)", wire, key, gb, err1, wb, err2)
	}
	return true
}

// TestRowPlanMatchesUnmarshal checks the row plan's decode (rowplan.go)
// against proto.Unmarshal on random rows of every scalar kind, as Marshal
// writes them and changed the ways stored bytes may differ, and that the
// plan declines projections of fields it does not decode.
func TestRowPlanMatchesUnmarshal(t *testing.T) {
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	for _, fields := range [][]string{{"opt"}, {"nums"}, {"left"}, {"s", "right"}} {
		if _, _, err := runtime.RowPlanDecodeForTest(tbl, fields, nil, nil); err == nil {
			t.Errorf("fields %q: a row plan, but it cannot decode them all", fields)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	decoded, declined := 0, 0
	defer runtime.SetRowStringsMaxForTest(0)
	for i := range 20000 {
		// A row's strings gathered into one allocation, and past a
		// lowered maximum made one by one.
		runtime.SetRowStringsMaxForTest(i % 3)
		m := randomScalars(r)
		key := must[runtime.Ref](t)(tbl.RowOf(m)).Key()
		wire := must[[]byte](t)(proto.Marshal(m))
		fields := planFields
		if i%2 == 1 {
			fields = []string{planFields[r.IntN(len(planFields))]}
		}
		if i%3 != 0 {
			wire = mutateWire(r, wire)
		}
		if i%5 != 0 {
			// What the scan decodes: the value filtered by the projection.
			wire = keepFields(tbl, fields, wire)
		}
		if checkRowPlan(t, tbl, fields, key, wire) {
			decoded++
		} else {
			declined++
		}
	}
	if decoded < 5000 || declined < 2000 {
		t.Errorf("%d rows decoded by the row plan, %d declined: the test should see many of both", decoded, declined)
	}
	if testing.Verbose() {
		t.Logf("%d decoded, %d declined", decoded, declined)
	}
}

// FuzzRowPlan checks the row plan's decode against proto.Unmarshal on
// arbitrary value bytes, under the key of a random row.
func FuzzRowPlan(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 8 {
		f.Add(uint64(r.Uint32()), mutateWire(r, must[[]byte](f)(proto.Marshal(randomScalars(r)))))
	}
	f.Add(uint64(0), []byte{})
	db := openScalars(f, memkv.New())
	tbl := table(f, db, "Scalars")
	f.Fuzz(func(t *testing.T, seed uint64, wire []byte) {
		r := rand.New(rand.NewPCG(seed, 0))
		key := must[runtime.Ref](t)(tbl.RowOf(randomScalars(r))).Key()
		checkRowPlan(t, tbl, planFields, key, wire)
		checkRowPlan(t, tbl, []string{"s", "name"}, key, wire)
	})
}

// checkRowPlanOwn compares the row plan's one pass over a row's own value
// (decodeOwn) with the two steps it replaces, filterChecked and the plan's
// decode of what the filter kept: the one pass must decode exactly the
// rows the two steps decode, into the same message, bit for bit, and
// decline every value the filter refuses (the scan then reports the
// filter's error). It reports whether the one pass decoded.
//
// The one pass decodes into the next message of rows, a scan's slab of
// messages (nil: a new message), as a scan without ScanOptions.Reuse
// does: an element of the slab that the pass declined after setting some
// fields must not show them in the row decoded into it next. The one pass
// into a reused message (ScanOptions.Reuse) that held dirty must decode
// the same rows into the same message.
func checkRowPlanOwn(t testing.TB, tbl *runtime.Table, fields []string, key, value []byte, dirty proto.Message, rows *runtime.RowsForTest) bool {
	t.Helper()
	own, reused, planned, filterErr, err := runtime.RowPlanOwnForTest(tbl, fields, key, value, dirty, rows)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case (own == nil) != (reused == nil):
		t.Fatalf("fields %q value %x key %x: the one pass decoded %v, into a reused message %v", fields, value, key, own, reused)
	case own != nil:
		gb, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(reused)
		wb, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(own)
		if !proto.Equal(reused, own) || err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
			t.Fatalf("fields %q value %x key %x:\nreused   %v\none pass %v", fields, value, key, reused, own)
		}
	}
	switch {
	case own == nil && planned == nil:
		return false
	case filterErr != nil:
		t.Fatalf("fields %q value %x: the one pass decoded a value the filter refuses: %v", fields, value, filterErr)
	case own == nil:
		t.Fatalf("fields %q value %x key %x: the one pass declined a row the filter and the plan decode", fields, value, key)
	case planned == nil:
		t.Fatalf("fields %q value %x key %x: the one pass decoded a row the plan declines after the filter", fields, value, key)
	}
	gb, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(own)
	wb, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(planned)
	if !proto.Equal(own, planned) || err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
		t.Fatalf("fields %q value %x key %x:\none pass   %v\nfiltered   %v", fields, value, key, own, planned)
	}
	return true
}

// TestRowPlanOwnMatchesFilter checks the row scan's one pass over a row's
// unfiltered value (rowPlan.decodeOwn) against the filter and the plan's
// decode on random rows of every scalar kind, as Marshal writes them and
// changed the ways stored bytes may differ. (checkRowPlan checks the
// plan's decode against proto.Unmarshal.)
func TestRowPlanOwnMatchesFilter(t *testing.T) {
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	r := rand.New(rand.NewPCG(7, 8))
	decoded, declined := 0, 0
	rows := map[string]*runtime.RowsForTest{}
	defer runtime.SetRowStringsMaxForTest(0)
	for i := range 20000 {
		runtime.SetRowStringsMaxForTest(i % 3)
		m := randomScalars(r)
		key := must[runtime.Ref](t)(tbl.RowOf(m)).Key()
		value := must[[]byte](t)(proto.Marshal(m))
		fields := planFields
		switch i % 3 {
		case 1:
			fields = []string{planFields[r.IntN(len(planFields))]}
		case 2:
			fields = []string{"s", "name", "level"}
		}
		if i%4 != 0 {
			value = mutateWire(r, value)
		}
		// One scan's slab of rows per projection (a slab serves one
		// plan), so that rows declined and decoded follow each other in
		// a slab.
		k := strings.Join(fields, ",")
		if rows[k] == nil {
			rows[k] = new(runtime.RowsForTest)
		}
		if checkRowPlanOwn(t, tbl, fields, key, value, randomScalars(r), rows[k]) {
			decoded++
		} else {
			declined++
		}
	}
	if decoded < 5000 || declined < 2000 {
		t.Errorf("%d rows decoded by the one pass, %d declined: the test should see many of both", decoded, declined)
	}
	if testing.Verbose() {
		t.Logf("%d decoded, %d declined", decoded, declined)
	}
}

// FuzzRowPlanOwn is TestRowPlanOwnMatchesFilter on arbitrary value bytes,
// under the key of a random row.
func FuzzRowPlanOwn(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 8 {
		f.Add(uint64(r.Uint32()), mutateWire(r, must[[]byte](f)(proto.Marshal(randomScalars(r)))))
	}
	f.Add(uint64(0), []byte{})
	db := openScalars(f, memkv.New())
	tbl := table(f, db, "Scalars")
	rows := new(runtime.RowsForTest) // the rows of planFields, across inputs
	f.Fuzz(func(t *testing.T, seed uint64, value []byte) {
		r := rand.New(rand.NewPCG(seed, 0))
		key := must[runtime.Ref](t)(tbl.RowOf(randomScalars(r))).Key()
		dirty := randomScalars(r)
		checkRowPlanOwn(t, tbl, planFields, key, value, dirty, rows)
		checkRowPlanOwn(t, tbl, []string{"s", "name"}, key, value, dirty, nil)
	})
}
