package runtime_test

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// planNodes returns every node of the test schema whose inline fields the
// encoder writes by plan, with the DB that links their Go types.
func planNodes(t testing.TB) (nodes []*schema.Node, dbs []*runtime.DB) {
	t.Helper()
	social := openDB(t, memkv.New())
	var walk func(db *runtime.DB, n *schema.Node)
	walk = func(db *runtime.DB, n *schema.Node) {
		if _, _, ok, _, _ := runtime.InlineEncodings(n, db.NewMessage(n.Desc)); ok {
			nodes, dbs = append(nodes, n), append(dbs, db)
		}
		for _, f := range n.Children {
			if f.Child != nil {
				walk(db, f.Child)
			}
		}
	}
	scalars, err := runtime.Open(context.Background(), memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_scalars_proto))
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []*runtime.DB{social, scalars} {
		for _, tb := range db.Catalog().Tables {
			walk(db, tb.Root)
		}
	}
	if len(nodes) == 0 {
		t.Fatal("no node of the test schemas has an inline plan")
	}
	return nodes, dbs
}

// FuzzInlinePlan checks that writing a value's inline fields by plan gives
// exactly the bytes of marshalling a copy of them (the encoder's general
// way), and the same errors, for generated and dynamic messages: the bytes
// each node's value decodes to, on every node that has a plan.
func FuzzInlinePlan(f *testing.F) {
	nodes, dbs := planNodes(f)
	u := fullUser("fuzz")
	for _, s := range u.Sessions {
		f.Add(must[[]byte](f)(proto.Marshal(s)))
	}
	f.Add(must[[]byte](f)(proto.Marshal(u.Password)))
	// Rows with a oneof member set, which Marshal writes after the other
	// fields (profile, 13, before address, 10, and phone, 9).
	f.Add(must[[]byte](f)(proto.Marshal(u)))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.User{UserId: "p", Registered: 1, Contact: &testpb.User_Phone{Phone: "123"}, Profile: &testpb.Profile{Bio: "b"}})))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.Session{ExpiresUs: -1, Geo: &testpb.Geo{Lat: math.Copysign(0, -1)}})))
	f.Add([]byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x10, 0x12, 0x01, 'x', 0xa0, 0x06, 0x01})
	// Every scalar kind with its zero value, -0.0 and NaN (set: Has and
	// Marshal tell them from 0 by their bits), and an inline message of
	// more than 127 bytes (a length of two bytes).
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.Scalars{Name: "z", Fl: float32(math.Copysign(0, -1)), Db: math.Copysign(0, -1)})))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.Scalars{Name: "n", B: true, I32: -1, S32: -2, Sf32: -3, I64: 4, S64: -5, Sf64: 6, U32: 7, F32: 8, U64: 9, F64: 10,
		Fl: float32(math.NaN()), Db: math.Inf(-1), S: "s", By: []byte{0}, Level: testpb.Level_LEVEL_HIGH, Opt: proto.String(""), Nums: []int32{1, -1}, Choice: &testpb.Scalars_Right{Right: 0}})))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.User{UserId: "l", Profile: &testpb.Profile{Bio: strings.Repeat("b", 200), Links: map[string]string{"k": "v"}}})))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.User{UserId: "e", Profile: &testpb.Profile{}, Created: &timestamppb.Timestamp{}})))
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, n := range nodes {
			for _, m := range []protoreflect.Message{dbs[i].NewMessage(n.Desc), dynamicpb.NewMessage(n.Desc)} {
				if !unmarshals(data, m) {
					continue
				}
				planned, shelled, _, perr, serr := runtime.InlineEncodings(n, m)
				if (perr == nil) != (serr == nil) {
					t.Fatalf("%s (%T): plan error %v, shell error %v", n.Desc.FullName(), m.Interface(), perr, serr)
				}
				if perr == nil && !bytes.Equal(planned, shelled) {
					t.Fatalf("%s (%T): plan wrote %x, shell %x", n.Desc.FullName(), m.Interface(), planned, shelled)
				}
			}
		}
	})
}

// unmarshals parses data into m, reporting whether it parsed. protobuf-go
// v1.36.12 panics parsing some malformed map entries into a dynamic message
// (a map key it cannot convert); such input is skipped.
func unmarshals(data []byte, m protoreflect.Message) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return proto.Unmarshal(data, m.Interface()) == nil
}
