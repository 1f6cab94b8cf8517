package runtime_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FuzzPresent checks the encoder's one-read presence test against Has and
// Get: on every field of every node of the test schemas (rows, objects,
// map values; scalars with and without presence, oneof members, messages,
// lists, maps), for generated and dynamic messages, present must report
// exactly m.Has(fd), and then the value m.Get(fd) gives.
func FuzzPresent(f *testing.F) {
	ctx := context.Background()
	var nodes []*schema.Node
	var dbs []*runtime.DB
	for _, fd := range []protoreflect.FileDescriptor{testpb.File_protoql_test_v1_social_proto, testpb.File_protoql_test_v1_scalars_proto, testpb.File_protoql_test_v1_indexed_proto} {
		db, err := runtime.Open(ctx, memkv.New(), runtime.WithSchema(fd))
		if err != nil {
			f.Fatal(err)
		}
		var walk func(n *schema.Node)
		walk = func(n *schema.Node) {
			nodes, dbs = append(nodes, n), append(dbs, db)
			for _, c := range n.Children {
				if c.Child != nil {
					walk(c.Child)
				}
			}
		}
		for _, tb := range db.Catalog().Tables {
			walk(tb.Root)
		}
	}
	u := fullUser("fuzz")
	f.Add(must[[]byte](f)(proto.Marshal(u)))
	for _, s := range u.Sessions {
		f.Add(must[[]byte](f)(proto.Marshal(s)))
	}
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.Scalars{Name: "z", Fl: float32(math.Copysign(0, -1)), Db: math.NaN(), Opt: proto.String(""), Choice: &testpb.Scalars_Right{}})))
	f.Add(must[[]byte](f)(proto.Marshal(&testpb.User{Contact: &testpb.User_Address{}, Profile: &testpb.Profile{}, Nickname: proto.String("")})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, n := range nodes {
			for _, m := range []protoreflect.Message{dbs[i].NewMessage(n.Desc), dynamicpb.NewMessage(n.Desc)} {
				if !unmarshals(data, m) {
					continue
				}
				fields := n.Desc.Fields()
				for j := range fields.Len() {
					fd := fields.Get(j)
					v, ok := runtime.PresentForTest(m, fd)
					if ok != m.Has(fd) {
						t.Fatalf("%s (%T): present = %v, Has = %v", fd.FullName(), m.Interface(), ok, !ok)
					}
					if ok && !sameValue(fd, v, m.Get(fd)) {
						t.Fatalf("%s (%T): present gave %v, Get %v", fd.FullName(), m.Interface(), v, m.Get(fd))
					}
				}
			}
		}
	})
}

// sameValue reports whether v and w, values of fd, are equal: scalars by
// value (bytes by content, floats by bits), messages by identity, lists and
// maps by length and identity of the underlying container.
func sameValue(fd protoreflect.FieldDescriptor, v, w protoreflect.Value) bool {
	switch {
	case fd.IsMap():
		return v.Map().Len() == w.Map().Len()
	case fd.IsList():
		return v.List().Len() == w.List().Len()
	case fd.Message() != nil:
		return v.Message().Interface() == w.Message().Interface()
	case fd.Kind() == protoreflect.BytesKind:
		return bytes.Equal(v.Bytes(), w.Bytes())
	case fd.Kind() == protoreflect.FloatKind || fd.Kind() == protoreflect.DoubleKind:
		return math.Float64bits(v.Float()) == math.Float64bits(w.Float())
	}
	return v.Interface() == w.Interface()
}
