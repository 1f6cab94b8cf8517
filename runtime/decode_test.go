package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// decodeCases are wire forms of User that the decode path must treat
// exactly as proto.Unmarshal does: what Get reassembles, and every
// irregular form of a sessions entry that it hands to proto.Unmarshal.
func decodeCases(t testing.TB) map[string][]byte {
	full := userWithSessions("u1", 10)
	full.Sessions["session-01"].Attrs = map[string]string{"a": "1", "b": "2"}
	full.Threads = map[string]*testpb.ThreadRef{"t1": {LastReadUs: 7}}
	full.Counters = map[string]int64{"c": 3}
	full.Scores = map[int64]string{4: "four"}
	full.Emails = []string{"x@example.com"}
	wire, err := proto.MarshalOptions{Deterministic: true}.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	session := func(v int64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(v))
	}
	entry := func(fields ...[]byte) []byte {
		var e []byte
		for _, f := range fields {
			e = append(e, f...)
		}
		b := protowire.AppendTag(nil, 5, protowire.BytesType)
		return protowire.AppendBytes(b, e)
	}
	bytesField := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	key := func(k string) []byte { return bytesField(1, []byte(k)) }
	val := func(v int64) []byte { return bytesField(2, session(v)) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	return map[string][]byte{
		"empty":            nil,
		"whole user":       wire,
		"duplicate keys":   cat(entry(key("s"), val(1)), entry(key("s"), val(2))),
		"invalid utf-8":    cat(entry(key("ok"), val(1)), entry(key("\xff"), val(2))),
		"key only":         entry(key("s")),
		"value only":       entry(val(1)),
		"value first":      entry(val(1), key("s")),
		"extra field":      cat(entry(key("s"), val(1), bytesField(3, []byte("x")))),
		"two values":       entry(key("s"), val(1), val(2)),
		"wrong wire type":  cat(entry(key("s"), val(1)), protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1)),
		"unknown fields":   cat(entry(key("s"), val(1)), bytesField(99, []byte("u"))),
		"bad value":        entry(key("s"), bytesField(2, []byte{0x0a, 0x05})),
		"truncated":        wire[:len(wire)-3],
		"bad tag":          cat(entry(key("s"), val(1)), []byte{0x00}),
		"map then scalars": cat(entry(key("s"), val(1)), protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 9)),
	}
}

// checkDecode compares the decode path with proto.Unmarshal on wire.
func checkDecode(t *testing.T, db *runtime.DB, wire []byte) {
	t.Helper()
	want := &testpb.User{}
	wantErr := proto.UnmarshalOptions{Merge: true}.Unmarshal(wire, want)
	got := &testpb.User{}
	gotErr := runtime.DecodeForTest(db, wire, got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("decode error %v, proto.Unmarshal error %v", gotErr, wantErr)
	}
	if wantErr == nil && !proto.Equal(got, want) {
		t.Fatalf("decoded\n%v\nproto.Unmarshal\n%v", got, want)
	}
}

func TestDecodeMatchesUnmarshal(t *testing.T) {
	db := openDB(t, memkv.New())
	for name, wire := range decodeCases(t) {
		t.Run(name, func(t *testing.T) { checkDecode(t, db, wire) })
	}
}

func FuzzDecode(f *testing.F) {
	for _, wire := range decodeCases(f) {
		f.Add(wire)
	}
	db := openDB(f, memkv.New())
	f.Fuzz(func(t *testing.T, wire []byte) { checkDecode(t, db, wire) })
}

// TestGetAllocs holds the allocation budget of Get: a user with 10
// sessions in at most 30 allocations (protobuf-go's reflective map decode
// alone took 5 per entry).
func TestGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	ctx := context.Background()
	db := openDB(t, openPebble(t))
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	for i := range 10 {
		check(t, users.Put(ctx, userWithSessions(fmt.Sprintf("user-%d", i), 10)))
	}
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		var u *testpb.User
		if u, err = users.Get(ctx, "user-3"); err == nil && len(u.Sessions) != 10 {
			err = fmt.Errorf("got %d sessions", len(u.Sessions))
		}
	})
	check(t, err)
	if allocs > 30 {
		t.Errorf("Get of a user with 10 sessions: %v allocations, want at most 30", allocs)
	}
}
