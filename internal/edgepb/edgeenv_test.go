package edgepb_test

// The environment and checks of TestWritePaths.

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/edgepb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"
)

type env struct {
	ctx            context.Context
	store          kv.Store
	edge, social   *runtime.DB
	legacy         edgepb.LegacyTable
	doc            edgepb.DocTable
	users          testpb.UserTable
	edgeNS, userNS string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{ctx: ctx, store: memkv.New(), edgeNS: "edge", userNS: "social"}
	var err error
	if e.edge, err = runtime.Open(ctx, e.store, runtime.WithNamespace(e.edgeNS),
		runtime.WithSchema(edgepb.File_protoql_test_edge_v1_legacy_proto, edgepb.File_protoql_test_edge_v1_doc_proto)); err != nil {
		t.Fatal(err)
	}
	if e.social, err = runtime.Open(ctx, e.store, runtime.WithNamespace(e.userNS),
		runtime.WithSchema(testpb.File_protoql_test_v1_social_proto)); err != nil {
		t.Fatal(err)
	}
	if e.legacy, err = edgepb.NewLegacyTable(e.edge); err != nil {
		t.Fatal(err)
	}
	if e.doc, err = edgepb.NewDocTable(e.edge); err != nil {
		t.Fatal(err)
	}
	if e.users, err = testpb.NewUserTable(e.social); err != nil {
		t.Fatal(err)
	}
	return e
}

// Helpers building edge-case inputs.

func ext[M proto.Message](m M, xt protoreflect.ExtensionType, v any) M {
	proto.SetExtension(m, xt, v)
	return m
}

// unknown sets raw unknown-field bytes on m.
func unknown[M proto.Message](m M, raw []byte) M {
	m.ProtoReflect().SetUnknown(raw)
	return m
}

func varintField(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func bytesField(num protowire.Number, v string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

var malformed = []byte{0x0a, 0x05, 'a'} // field 1, length 5, one byte

const bad = "a\xffb"

var (
	bigKey   = strings.Repeat("k", runtime.MaxKeySize)
	bigValue = strings.Repeat("v", runtime.MaxValueSize)
)

// outcome is what a write must do.
type outcome int

const (
	stored   outcome = iota // succeeds and reads back
	refused                 // fails with ErrInvalid, writes nothing
	tooLarge                // fails with ErrInvalid and ErrTooLarge, writes nothing
)

type pair struct{ k, v []byte }

func dump(t *testing.T, s kv.Store) []pair {
	t.Helper()
	var out []pair
	err := s.View(context.Background(), func(r kv.Reader) error {
		it, err := r.NewIter(context.Background(), kv.IterOptions{})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			out = append(out, pair{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
		}
		return it.Error()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalPairs(a, b []pair) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].k, b[i].k) || !bytes.Equal(a[i].v, b[i].v) {
			return false
		}
	}
	return true
}

// readable checks that every table reads whole, through Scan and through a
// query, on the linked DBs and on DBs opened on the stored schema alone
// (dynamicpb), that both agree, that extensions come back as extensions
// (not unknown fields) on both, and that every row marshals (as the server
// must, to send it).
func readable(t *testing.T, e *env) {
	t.Helper()
	for _, ns := range []struct {
		name string
		db   *runtime.DB
	}{{e.edgeNS, e.edge}, {e.userNS, e.social}} {
		dyn, err := runtime.Open(e.ctx, e.store, runtime.WithNamespace(ns.name))
		if err != nil {
			t.Fatalf("open %s on its stored schema: %v", ns.name, err)
		}
		for _, tbl := range ns.db.Catalog().Tables {
			linked := rows(t, ns.db, string(tbl.Desc.Name()))
			dynamic := rows(t, dyn, string(tbl.Desc.Name()))
			if len(linked) != len(dynamic) {
				t.Fatalf("%s: %d rows linked, %d dynamic", tbl.Desc.Name(), len(linked), len(dynamic))
			}
			for i := range linked {
				lb, err := proto.MarshalOptions{Deterministic: true}.Marshal(linked[i])
				if err != nil {
					t.Fatalf("%s: marshal linked row: %v", tbl.Desc.Name(), err)
				}
				db, err := proto.MarshalOptions{Deterministic: true}.Marshal(dynamic[i])
				if err != nil {
					t.Fatalf("%s: marshal dynamic row: %v", tbl.Desc.Name(), err)
				}
				if !bytes.Equal(lb, db) {
					t.Errorf("%s: linked and dynamic rows differ:\n%v\n%v", tbl.Desc.Name(), linked[i], dynamic[i])
				}
				noUnknownExtensions(t, linked[i].ProtoReflect())
				noUnknownExtensions(t, dynamic[i].ProtoReflect())
			}
		}
	}
}

// rows reads a table by Scan and by query, which must agree.
func rows(t *testing.T, db *runtime.DB, table string) []proto.Message {
	t.Helper()
	tbl, err := db.Table(table)
	if err != nil {
		t.Fatal(err)
	}
	var scanned []proto.Message
	for m, err := range db.Scan(context.Background(), tbl, runtime.KeyRange{}, runtime.ScanOptions{}) {
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		scanned = append(scanned, m)
	}
	q, err := query.Compile(db.Catalog(), table)
	if err != nil {
		t.Fatal(err)
	}
	var queried []proto.Message
	for res, err := range db.Query(context.Background(), q, nil) {
		if err != nil {
			t.Fatalf("query %s: %v", table, err)
		}
		queried = append(queried, res.Msg)
	}
	if len(scanned) != len(queried) {
		t.Fatalf("%s: Scan read %d rows, the query %d", table, len(scanned), len(queried))
	}
	for i := range scanned {
		if diff := diffMessages(scanned[i], queried[i]); diff != "" {
			t.Errorf("%s: Scan and query differ (-scan +query):\n%s", table, diff)
		}
	}
	return scanned
}

// diffMessages is cmp.Diff for messages, with proto.Equal first: cmp
// compares bytes fields element by element, far too slowly for the
// megabyte values of the size cases.
func diffMessages(want, got proto.Message) string {
	if proto.Equal(want, got) {
		return ""
	}
	return cmp.Diff(want, got, protocmp.Transform())
}

// noUnknownExtensions fails when m, or a message in it, holds an unknown
// field numbered like one of the schema's extensions of its type: the read
// path left an extension unresolved.
func noUnknownExtensions(t *testing.T, m protoreflect.Message) {
	t.Helper()
	md := m.Descriptor()
	for b := []byte(m.GetUnknown()); len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: malformed unknown fields", md.FullName())
		}
		if md.ExtensionRanges().Has(num) && num < 150 { // 150 is the test's deliberately unlinked number
			t.Errorf("%s: extension %d read back as an unknown field", md.FullName(), num)
		}
		b = b[n+protowire.ConsumeFieldValue(num, typ, b[n:]):]
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					noUnknownExtensions(t, mv.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					noUnknownExtensions(t, v.List().Get(i).Message())
				}
			}
		case fd.Message() != nil:
			noUnknownExtensions(t, v.Message())
		}
		return true
	})
}
