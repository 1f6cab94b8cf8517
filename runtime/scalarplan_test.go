package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// scalarEntryQueries read pages of sessions projected to inline fields:
// the projected map entries the scalar plan decodes (scalarplan.go), with
// the fields it declines (attrs, a map; geo, a message) among them.
var scalarEntryQueries = []string{
	`User[$id] { sessions(first: 10) { expires_us } }`,
	`User[$id] { sessions(first: 2) { device, expires_us } }`,
	`User[$id] { sessions { device } }`,
	`User[$id] { sessions { device, attrs } }`,
	`User[$id] { sessions(first: 3) { expires_us, geo } }`,
	`User[$id] { registered, sessions { expires_us } threads { last_read_us } }`,
}

// TestScalarEntriesMatchUnmarshal reads random users, their sessions'
// stored values damaged at random (truncated, a byte changed, a field of
// each wire type appended for a known or unknown field number, a device
// that is not valid UTF-8, a field repeated), with the projected map
// entries decoded by their scalar plan and by filter and proto.Unmarshal,
// under random limits and row chunks, and each user read whole by
// DB.Get (keepWhole's entries), on memkv and Pebble, and requires the
// same results and the same errors.
func TestScalarEntriesMatchUnmarshal(t *testing.T) {
	defer runtime.SetScalarEntriesForTest(true)
	onEachEngine(t, 25, scalarEntriesSeed, func(t *testing.T, sessions int) {
		if sessions < 100 {
			t.Fatalf("the queries read %d sessions: too few to test the scalar plan", sessions)
		}
	})
}

// scalarEntriesSeed runs the test's queries on the data of seed in
// store and returns the number of sessions they read.
func scalarEntriesSeed(t *testing.T, store kv.Store, seed uint64) (sessions int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 8))
	db := openDB(t, store)
	data := querytest.RandomData(r)
	querytest.Put(t, db, data...)
	users := table(t, db, "User")
	b := kv.NewBatch()
	var ids []string
	for _, m := range data {
		u, ok := m.(*testpb.User)
		if !ok {
			continue
		}
		ids = append(ids, u.UserId)
		for k := range u.Sessions {
			if r.IntN(3) != 0 {
				continue
			}
			key := must[runtime.Ref](t)(must[runtime.Ref](t)(must[runtime.Ref](t)(users.Row(str(u.UserId))).FieldByName("sessions")).Entry(str(k))).Key()
			v, err := store.Get(ctx, key)
			check(t, err)
			check(t, b.Set(key, damageSession(r, v)))
		}
	}
	check(t, store.Apply(ctx, b))
	// Each user read whole with DB.Get: the entries kept aside decoded
	// by their field plan (keepWhole) and by proto.Unmarshal.
	for _, id := range ids {
		ref := must[runtime.Ref](t)(users.Row(str(id)))
		runtime.SetScalarEntriesForTest(true)
		planned := &testpb.User{}
		perr := db.Get(ctx, ref, planned)
		runtime.SetScalarEntriesForTest(false)
		slow := &testpb.User{}
		serr := db.Get(ctx, ref, slow)
		runtime.SetScalarEntriesForTest(true)
		if fmt.Sprint(perr) != fmt.Sprint(serr) || (serr == nil && !proto.Equal(planned, slow)) {
			t.Fatalf("seed %d Get %q: %v %s, with proto.Unmarshal %v %s", seed, id, perr, querytest.Text(planned.ProtoReflect()), serr, querytest.Text(slow.ProtoReflect()))
		}
		sessions += len(planned.Sessions)
	}
	g := querytest.NewGen(r, db.Catalog())
	for i := range 40 {
		text := scalarEntryQueries[r.IntN(len(scalarEntryQueries))]
		vars := map[string]any{"id": ""}
		if len(ids) > 0 {
			vars["id"] = ids[r.IntN(len(ids))]
		}
		if i%4 == 3 {
			text = g.Query()
			vars = map[string]any{"first": 1 + r.IntN(4), "after": ""}
		}
		q, err := query.Compile(db.Catalog(), text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		what := fmt.Sprintf("seed %d query %d: %s %v", seed, i, text, vars)
		planned := collectToggled(t, r, db, q, vars, what, runtime.SetScalarEntriesForTest, "with proto.Unmarshal")
		for _, res := range planned {
			if u, ok := res.Msg.(*testpb.User); ok {
				sessions += len(u.Sessions)
			}
		}
	}
	return sessions
}

// damageSession returns the stored value v of a session, intact or
// damaged in one of the ways TestScalarEntriesMatchUnmarshal names.
func damageSession(r *rand.Rand, v []byte) []byte {
	v = append([]byte(nil), v...)
	num := protowire.Number(1 + r.IntN(6)) // 5 and 6: unknown to Session
	switch r.IntN(8) {
	case 0:
		return v
	case 1:
		return v[:r.IntN(len(v)+1)]
	case 2:
		if len(v) > 0 {
			v[r.IntN(len(v))] = byte(r.IntN(256))
		}
		return v
	case 3:
		return protowire.AppendVarint(protowire.AppendTag(v, num, protowire.VarintType), r.Uint64N(1<<40))
	case 4:
		return protowire.AppendString(protowire.AppendTag(v, num, protowire.BytesType), "x")
	case 5:
		return protowire.AppendFixed32(protowire.AppendTag(v, num, protowire.Fixed32Type), 1)
	case 6:
		// A device that is not valid UTF-8 (or, when kept, a second one:
		// the last wins).
		if r.IntN(2) == 0 {
			return protowire.AppendString(protowire.AppendTag(v, 2, protowire.BytesType), "\xff")
		}
		return protowire.AppendString(protowire.AppendTag(v, 2, protowire.BytesType), "é")
	default:
		// expires_us again (the last wins), or as a fixed64.
		if r.IntN(2) == 0 {
			return protowire.AppendVarint(protowire.AppendTag(v, 1, protowire.VarintType), protowire.EncodeZigZag(-3))
		}
		return protowire.AppendFixed64(protowire.AppendTag(v, 1, protowire.Fixed64Type), 1)
	}
}

// checkEntryPlan compares the entry plan's one pass over value (a stored
// value of a Scalars row, standing for a map entry's value of that type)
// with the path it replaces (filter, checkValue, proto.Unmarshal): where
// the plan decodes, the old path must decode the same message, bit for
// bit, and the plan must count the filtered value's size. It reports
// whether the plan decoded.
func checkEntryPlan(t testing.TB, tbl *runtime.Table, fields []string, value []byte) bool {
	t.Helper()
	planned, slow, size, kept, slowErr, err := runtime.EntryPlanForTest(tbl, fields, value)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case planned == nil:
		return false
	case slowErr != nil:
		t.Fatalf("fields %q value %x: the entry plan decoded a value the old path refuses: %v", fields, value, slowErr)
	case size != len(kept):
		t.Fatalf("fields %q value %x: the entry plan counts %d bytes, the filter kept %d", fields, value, size, len(kept))
	}
	gb, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(planned)
	wb, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(slow)
	if !proto.Equal(planned, slow) || err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
		t.Fatalf("fields %q value %x:\nentry plan %v\nunmarshal  %v", fields, value, planned, slow)
	}
	return true
}

// checkWholeEntryPlan is checkEntryPlan for an entry's value read whole
// (keepWhole: a whole-row Get), against checkValue and proto.Unmarshal
// of the value: where the plan decodes, the old path must accept the
// value and decode the same message, bit for bit.
func checkWholeEntryPlan(t testing.TB, tbl *runtime.Table, value []byte) bool {
	t.Helper()
	planned, slow, slowErr, err := runtime.WholeEntryPlanForTest(tbl, value)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case planned == nil:
		return false
	case slowErr != nil:
		t.Fatalf("value %x: the entry plan decoded a whole value the old path refuses: %v", value, slowErr)
	}
	gb, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(planned)
	wb, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(slow)
	if !proto.Equal(planned, slow) || err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
		t.Fatalf("value %x:\nentry plan %v\nunmarshal  %v", value, planned, slow)
	}
	return true
}

// TestWholeEntryPlanMatchesUnmarshal is TestEntryPlanMatchesUnmarshal for
// values read whole (every field kept): random values of every scalar
// kind, with the fields the plan declines (optional, repeated, oneof,
// key columns, a breakout field, unknown numbers) set or appended at
// random, as Marshal writes them and changed.
func TestWholeEntryPlanMatchesUnmarshal(t *testing.T) {
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	r := rand.New(rand.NewPCG(15, 16))
	decoded, declined := 0, 0
	for i := range 20000 {
		m := randomScalars(r)
		if r.IntN(2) == 0 {
			// Only the fields the plan decodes, so that many values are
			// decoded whole.
			m.Name, m.N, m.Tag, m.Opt, m.Nums, m.Choice, m.BreakoutLevel = "", 0, nil, nil, nil, nil, 0
		}
		value := must[[]byte](t)(proto.Marshal(m))
		if i%2 != 0 {
			value = mutateWire(r, value)
			if r.IntN(8) == 0 {
				value = protowire.AppendString(protowire.AppendTag(value, 17, protowire.BytesType), "\xc3(")
			}
		}
		if checkWholeEntryPlan(t, tbl, value) {
			decoded++
		} else {
			declined++
		}
	}
	if decoded < 5000 || declined < 2000 {
		t.Errorf("%d values decoded by the entry plan, %d declined: the test should see many of both", decoded, declined)
	}
	if testing.Verbose() {
		t.Logf("%d decoded, %d declined", decoded, declined)
	}
}

// TestEntryPlanMatchesUnmarshal checks the entry plan (the field plan of
// a map value type, scalarplan.go) against the filter and proto.Unmarshal
// on random values of every scalar kind (Scalars: also proto3 optional,
// repeated, oneof and key-column fields, which it declines or skips), as
// Marshal writes them and changed the ways stored bytes may differ, under
// projections of one field, of every field it decodes, and of fields it
// does not decode.
func TestEntryPlanMatchesUnmarshal(t *testing.T) {
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	r := rand.New(rand.NewPCG(11, 12))
	decoded, declined := 0, 0
	entryFields := []string{"b", "i32", "s32", "sf32", "i64", "s64", "sf64", "u32", "f32", "u64", "f64", "fl", "db", "s", "by", "level"}
	for i := range 20000 {
		value := must[[]byte](t)(proto.Marshal(randomScalars(r)))
		fields := entryFields
		switch i % 4 {
		case 1, 2:
			fields = []string{entryFields[r.IntN(len(entryFields))]}
		case 3:
			fields = []string{"s", "opt", "nums", "left"}[r.IntN(4):]
		}
		if i%8 != 0 {
			value = mutateWire(r, value)
			if r.IntN(8) == 0 {
				// A string s that is not valid UTF-8 (rare in mutateWire
				// for one field).
				value = protowire.AppendString(protowire.AppendTag(value, 17, protowire.BytesType), "\xc3(")
			}
		}
		if checkEntryPlan(t, tbl, fields, value) {
			decoded++
		} else {
			declined++
		}
	}
	if decoded < 5000 || declined < 2000 {
		t.Errorf("%d values decoded by the entry plan, %d declined: the test should see many of both", decoded, declined)
	}
	if testing.Verbose() {
		t.Logf("%d decoded, %d declined", decoded, declined)
	}
}

// TestEntryPlanEdgeValues checks the entry plan's stores (planField.set,
// which writes each kind at its struct field's offset) against
// proto.Unmarshal for the edge values of every scalar kind it decodes, as
// stored bytes may hold them: bools above 1, negative int32s and enums in
// ten bytes and in five, int32 and uint32 varints with bits above 32,
// zigzag extremes, unknown enum values, signalling NaNs and negative zero.
// Each is the last occurrence of its field in a value that sets every
// field the plan decodes to other values, so that a store of the wrong
// width or at the wrong offset changes a neighbour; the plan must decode
// each value, projected to every field and read whole, bit for bit as
// Unmarshal does.
func TestEntryPlanEdgeValues(t *testing.T) {
	db := openScalars(t, memkv.New())
	tbl := table(t, db, "Scalars")
	entryFields := []string{"b", "i32", "s32", "sf32", "i64", "s64", "sf64", "u32", "f32", "u64", "f64", "fl", "db", "s", "by", "level"}
	base := must[[]byte](t)(proto.Marshal(&testpb.Scalars{
		B: true, I32: 0x0a0b0c0d, S32: -0x0a0b0c0e, Sf32: 0x0e0f1011,
		I64: 0x1213141516171819, S64: -0x1a1b1c1d1e1f2021, Sf64: 0x2223242526272829,
		U32: 0x2a2b2c2d, F32: 0x2e2f3031, U64: 0x3233343536373839, F64: 0x3a3b3c3d3e3f4041,
		Fl: 1.25, Db: -2.5, S: "neighbour", By: []byte("bytes"), Level: testpb.Level_LEVEL_HIGH,
	}))
	varint := func(num protowire.Number, vs ...uint64) [][]byte {
		return encodedFields(num, protowire.VarintType, protowire.AppendVarint, vs)
	}
	fixed32 := func(num protowire.Number, vs ...uint32) [][]byte {
		return encodedFields(num, protowire.Fixed32Type, protowire.AppendFixed32, vs)
	}
	fixed64 := func(num protowire.Number, vs ...uint64) [][]byte {
		return encodedFields(num, protowire.Fixed64Type, protowire.AppendFixed64, vs)
	}
	bytesOf := func(num protowire.Number, vs ...string) [][]byte {
		return encodedFields(num, protowire.BytesType, protowire.AppendString, vs)
	}
	// -1 as an int32 in five bytes (what some encoders write).
	minusOne5 := append(protowire.AppendTag(nil, 5, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0x0f)
	negInt32 := func(x int32) uint64 { return uint64(int64(x)) } // ten bytes, as Marshal writes it
	var cases [][]byte
	for _, c := range [][][]byte{
		varint(4, 0, 1, 2, 128, math.MaxUint64),
		varint(5, negInt32(-1), negInt32(math.MinInt32), math.MaxInt32, 1<<32|5, 0),
		{minusOne5},
		varint(6, 1, 2, math.MaxUint32, math.MaxUint32-1, 1<<32|3, 1<<33|3),
		fixed32(7, math.MaxUint32, 1<<31),
		varint(8, math.MaxUint64, 1<<63),
		varint(9, 1, math.MaxUint64, math.MaxUint64-1),
		fixed64(10, 1<<63, math.MaxUint64),
		varint(11, 1<<32|7, math.MaxUint32),
		fixed32(12, math.MaxUint32),
		varint(13, math.MaxUint64),
		fixed64(14, math.MaxUint64),
		fixed32(15, 0x7fa00001, 0xffc00002, 1<<31, 0x7f800000),
		fixed64(16, 0x7ff4000000000001, 0xfff8000000000002, 1<<63),
		bytesOf(17, "", "é"),
		bytesOf(18, "", "\x00", "\xff\xfe"),
		varint(19, negInt32(-1), 7, negInt32(math.MinInt32)),
	} {
		cases = append(cases, c...)
	}
	for _, c := range cases {
		value := append(bytes.Clone(base), c...)
		if !checkEntryPlan(t, tbl, entryFields, value) {
			t.Errorf("value %x: the entry plan declined it", value)
		}
		if !checkWholeEntryPlan(t, tbl, value) {
			t.Errorf("value %x: the entry plan declined it read whole", value)
		}
	}
}

// FuzzEntryPlan is TestEntryPlanMatchesUnmarshal on arbitrary bytes.
func FuzzEntryPlan(f *testing.F) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 8 {
		f.Add(mutateWire(r, must[[]byte](f)(proto.Marshal(randomScalars(r)))))
	}
	f.Add([]byte{})
	db := openScalars(f, memkv.New())
	tbl := table(f, db, "Scalars")
	f.Fuzz(func(t *testing.T, value []byte) {
		checkEntryPlan(t, tbl, []string{"b", "i32", "s32", "sf32", "i64", "s64", "sf64", "u32", "f32", "u64", "f64", "fl", "db", "s", "by", "level"}, value)
		checkEntryPlan(t, tbl, []string{"s", "opt"}, value)
		checkEntryPlan(t, tbl, []string{"fl"}, value)
		checkWholeEntryPlan(t, tbl, value)
	})
}

// TestEntryPlanManyEntries reads a user with more sessions than the
// first slab of decoded values holds (16: the slab grows, keeping the
// values decoded before), twice (the second read reuses the slab), with
// the entries decoded by their field plan and by proto.Unmarshal, and
// requires the same results, holding every session as stored.
func TestEntryPlanManyEntries(t *testing.T) {
	defer runtime.SetScalarEntriesForTest(true)
	db := openDB(t, memkv.New())
	u := &testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{}}
	for i := range 40 {
		u.Sessions[fmt.Sprintf("s%02d", i)] = &testpb.Session{ExpiresUs: int64(1000 + i), Device: fmt.Sprintf("d%d", i)}
	}
	querytest.Put(t, db, u)
	q := query.MustCompile(db.Catalog(), `User[$id] { sessions { device, expires_us } }`)
	vars := map[string]any{"id": "u"}
	for round := range 2 {
		runtime.SetScalarEntriesForTest(true)
		planned, perr := querytest.Collect(t, db, q, vars)
		runtime.SetScalarEntriesForTest(false)
		unmarshalled, uerr := querytest.Collect(t, db, q, vars)
		if perr != nil || uerr != nil {
			t.Fatalf("round %d: error %v, with proto.Unmarshal %v", round, perr, uerr)
		}
		sameDirectResults(t, fmt.Sprintf("round %d", round), planned, unmarshalled)
		if len(planned) != 1 || !proto.Equal(planned[0].Msg, &testpb.User{UserId: "u", Sessions: u.Sessions}) {
			t.Fatalf("round %d: read %s, want the 40 sessions stored", round, querytest.Texts(planned))
		}
	}
}

// encodedFields returns, for each of vs, the field numbered num of wire
// type typ holding it, its value appended by app.
func encodedFields[T any](num protowire.Number, typ protowire.Type, app func([]byte, T) []byte, vs []T) [][]byte {
	out := make([][]byte, 0, len(vs))
	for _, v := range vs {
		out = append(out, app(protowire.AppendTag(nil, num, typ), v))
	}
	return out
}
