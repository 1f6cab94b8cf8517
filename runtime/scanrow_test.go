package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// shortRowSchema has rows of at most three keys (the row's own, a
// breakout field, an object without children; the map is apart), which a
// forward scan of inline fields leaves with Next, not a seek, and keys of
// three kinds, one descending.
const shortRowSchema = `syntax = "proto3";
package protoql.shortrows.v1;
import "protoql/v1/options.proto";

message Short {
  option (protoql.v1.table) = {id: 1, key: ["id", "n", "z"]};
  string id = 1;
  int32 n = 2 [(protoql.v1.field).descending = true];
  sint64 z = 3;
  string name = 4;
  uint64 count = 5;
  int64 seen = 6 [(protoql.v1.field).breakout = true];
  Sub sub = 7;
  map<string, string> tags = 8 [(protoql.v1.field).apart = true];
}

message Sub {
  string x = 1;
  bytes y = 2;
}
`

// openShortRows opens a DB of shortRowSchema (dynamic messages).
func openShortRows(t testing.TB, store kv.Store) *runtime.DB {
	return openDynamic(t, store, "short.proto", shortRowSchema)
}

// openDynamic opens a DB over store of the one file name holding schema,
// compiled for dynamic messages.
func openDynamic(t testing.TB, store kv.Store, name, schema string) *runtime.DB {
	t.Helper()
	files, _, err := prototest.Compile(map[string]string{name: schema}, name)
	if err != nil {
		t.Fatal(err)
	}
	db, err := runtime.Open(context.Background(), store, runtime.WithSchema(files...))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// wideKeySchema's table has more key columns than scanOwn records for the
// row plan (maxKeyCols, 8), which it must then leave to setKeys.
const wideKeySchema = `syntax = "proto3";
package protoql.widekey.v1;
import "protoql/v1/options.proto";

message Wide {
  option (protoql.v1.table) = {id: 1, key: ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]};
  string k1 = 1;
  string k2 = 2;
  string k3 = 3;
  string k4 = 4;
  string k5 = 5;
  string k6 = 6;
  string k7 = 7;
  string k8 = 8;
  string k9 = 9;
  string name = 10;
}
`

// openWideKey opens a DB of wideKeySchema (dynamic messages).
func openWideKey(t testing.TB, store kv.Store) *runtime.DB {
	return openDynamic(t, store, "wide.proto", wideKeySchema)
}

// wideKeyRows returns random rows of wideKeySchema in db, their key
// columns plain, empty or escaped strings.
func wideKeyRows(db *runtime.DB, r *rand.Rand) []proto.Message {
	md := db.Catalog().Tables[0].Desc
	fields := md.Fields()
	var out []proto.Message
	for range r.IntN(40) {
		m := db.NewMessage(md)
		for i := range fields.Len() {
			m.Set(fields.Get(i), protoreflect.ValueOfString([]string{"", "a", "a\x00b", "é"}[r.IntN(4)]))
		}
		out = append(out, m.Interface())
	}
	return out
}

// anyDB adapts a generator of linked messages to any DB.
func anyDB(data func(*rand.Rand) []proto.Message) func(*runtime.DB, *rand.Rand) []proto.Message {
	return func(_ *runtime.DB, r *rand.Rand) []proto.Message { return data(r) }
}

// shortRows returns random rows of shortRowSchema in db: each optional
// part (inline fields, breakout, object, apart map entries) present or not.
func shortRows(db *runtime.DB, r *rand.Rand) []proto.Message {
	md := db.Catalog().Tables[0].Desc
	sub := md.Fields().ByName("sub").Message()
	f := func(name string) protoreflect.FieldDescriptor { return md.Fields().ByName(protoreflect.Name(name)) }
	var out []proto.Message
	for range r.IntN(40) {
		m := db.NewMessage(md)
		m.Set(f("id"), protoreflect.ValueOfString([]string{"", "a", "a\x00b", "b", "é"}[r.IntN(5)]))
		m.Set(f("n"), protoreflect.ValueOfInt32(int32(r.IntN(5)-2)))
		m.Set(f("z"), protoreflect.ValueOfInt64(r.Int64N(7)-3))
		if r.IntN(2) == 0 {
			m.Set(f("name"), protoreflect.ValueOfString(fmt.Sprint("name", r.IntN(9))))
		}
		if r.IntN(2) == 0 {
			m.Set(f("count"), protoreflect.ValueOfUint64(r.Uint64()))
		}
		if r.IntN(2) == 0 {
			m.Set(f("seen"), protoreflect.ValueOfInt64(r.Int64N(100)))
		}
		if r.IntN(2) == 0 {
			s := db.NewMessage(sub)
			if r.IntN(2) == 0 {
				s.Set(sub.Fields().ByName("x"), protoreflect.ValueOfString("x"))
			}
			m.Set(f("sub"), protoreflect.ValueOfMessage(s))
		}
		if r.IntN(3) == 0 {
			m.Mutable(f("tags")).Map().Set(protoreflect.MapKey(protoreflect.ValueOfString("t")), protoreflect.ValueOfString("v"))
		}
		out = append(out, m.Interface())
	}
	return out
}

// TestRowScanFastPaths compares the row scan's fast paths (a projection of
// inline fields read from the row's own value, key columns decoded as
// fields with the row) with the generic path they replace (the assembler,
// then setKeys), on random rows of every table of three schemas (string,
// bytes, integer, enum and descending key columns, composite keys, a
// singleton table, fields stored apart, rows short enough to step over
// with Next, every scalar kind), for whole rows, each top-level
// field alone and random sets of fields, in both directions.
func TestRowScanFastPaths(t *testing.T) {
	ctx := context.Background()
	schemas := rowScanSchemas()
	// scan collects the rows; with opts.Reuse, copies of them, and it
	// fails unless every row came in one message.
	scan := func(db *runtime.DB, tbl *runtime.Table, opts runtime.ScanOptions, generic bool) ([]proto.Message, error) {
		runtime.SetGenericRowScanForTest(generic)
		defer runtime.SetGenericRowScanForTest(false)
		var out []proto.Message
		var first proto.Message
		for m, err := range db.Scan(ctx, tbl, runtime.KeyRange{}, opts) {
			if err != nil {
				return out, err
			}
			if opts.Reuse {
				if first == nil {
					first = m
				} else if m != first {
					t.Fatalf("%s %+v: row %d came in a new message", tbl.Schema().Desc.Name(), opts, len(out))
				}
				// A copy through the wire: proto.Clone drops a float's
				// negative zero (protobuf-go merges it as zero).
				b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
				c := m.ProtoReflect().New().Interface()
				if err == nil {
					err = proto.Unmarshal(b, c)
				}
				if err != nil {
					t.Fatal(err)
				}
				m = c
			}
			out = append(out, m)
		}
		return out, nil
	}
	compared := 0
	for _, sc := range schemas {
		for seed := range uint64(12) {
			r := rand.New(rand.NewPCG(seed, 7))
			var store kv.Store = memkv.New()
			if seed%6 == 0 {
				store = openPebble(t)
			}
			db := sc.open(t, store)
			querytest.Put(t, db, sc.data(db, r)...)
			for _, st := range db.Catalog().Tables {
				tbl := table(t, db, string(st.Desc.Name()))
				fields := st.Desc.Fields()
				lists := [][]string{nil}
				for i := range fields.Len() {
					lists = append(lists, []string{string(fields.Get(i).Name())})
				}
				for range 6 {
					var l []string
					for i := range fields.Len() {
						if r.IntN(3) == 0 {
							l = append(l, string(fields.Get(i).Name()))
						}
					}
					lists = append(lists, l)
				}
				for _, l := range lists {
					opts := runtime.ScanOptions{Fields: l, Reverse: r.IntN(2) == 0}
					what := fmt.Sprintf("%s seed %d: %s %+v", sc.name, seed, st.Desc.Name(), opts)
					want, werr := scan(db, tbl, opts, true)
					// The fast paths, then the same with ScanOptions.Reuse,
					// on either path.
					reuse := opts
					reuse.Reuse = true
					for _, c := range []struct {
						name    string
						opts    runtime.ScanOptions
						generic bool
					}{{"fast path", opts, false}, {"reusing fast path", reuse, false}, {"reusing generic path", reuse, true}} {
						got, gerr := scan(db, tbl, c.opts, c.generic)
						if (werr == nil) != (gerr == nil) || (werr != nil && !errors.Is(gerr, runtime.ErrInvalid)) {
							t.Fatalf("%s: %s error %v, generic path error %v", what, c.name, gerr, werr)
						}
						if len(got) != len(want) {
							t.Fatalf("%s: %s %d rows, generic path %d", what, c.name, len(got), len(want))
						}
						for i := range want {
							if !proto.Equal(got[i], want[i]) {
								t.Fatalf("%s: row %d:\n%s %v\ngeneric %v", what, i, c.name, got[i], want[i])
							}
						}
					}
					compared += len(want)
				}
			}
		}
	}
	if compared < 1000 {
		t.Errorf("compared %d rows; the data sets should give more", compared)
	}
}

// scanSchema is a schema the row scan tests run on: how to open it on a
// store and how to make random rows for it.
type scanSchema struct {
	name string
	open func(testing.TB, kv.Store) *runtime.DB
	data func(*runtime.DB, *rand.Rand) []proto.Message
}

// rowScanSchemas are the schemas of the row scan tests: the social
// schema (colocated maps), the same with fields stored apart, indexed
// accounts, rows short enough to step over with Next, and every scalar
// kind.
func rowScanSchemas() []scanSchema {
	return []scanSchema{
		{"social", func(t testing.TB, s kv.Store) *runtime.DB { return openDB(t, s) }, anyDB(querytest.RandomData)},
		{"apart", func(t testing.TB, s kv.Store) *runtime.DB { db, _ := openApart(t, s); return db }, anyDB(qApartData)},
		{"indexed", func(t testing.TB, s kv.Store) *runtime.DB { return querytest.OpenIndexed(t, s) }, anyDB(querytest.RandomAccounts)},
		{"short rows", openShortRows, shortRows},
		{"wide key", openWideKey, wideKeyRows},
		{"scalars", openScalars, anyDB(func(r *rand.Rand) []proto.Message {
			var out []proto.Message
			for range r.IntN(40) {
				m := randomScalars(r)
				m.BreakoutLevel = testpb.Level(r.IntN(3))
				out = append(out, m)
			}
			return out
		})},
	}
}
