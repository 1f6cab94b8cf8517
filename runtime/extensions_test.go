package runtime_test

import (
	"context"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestExtensionsDynamic checks that extensions are kept by Put and read back
// as extensions when no Go type of the schema is linked into the program
// (so protobuf's global registry cannot resolve them): with the schema given
// to Open, and with the schema stored in the DB.
func TestExtensionsDynamic(t *testing.T) {
	t.Parallel()
	files, _, err := prototest.Compile(map[string]string{"x.proto": `syntax = "proto2";
package xdyn;
import "protoql/v1/options.proto";
message Row {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  optional string id = 1;
  optional int64 hits = 2 [(protoql.v1.field).breakout = true];
  map<string, Row2> kids = 3;
  extensions 100 to 199;
}
message Row2 { optional string s = 1; extensions 100 to 199; }
extend Row { optional sint64 score = 100; optional Row2 extra = 101; }
extend Row2 { repeated string notes = 100; }
`}, "x.proto")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := memkv.New()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(files...))
	if err != nil {
		t.Fatal(err)
	}
	fd := files[len(files)-1]
	rowDesc, row2Desc := fd.Messages().ByName("Row"), fd.Messages().ByName("Row2")
	score := dynamicpb.NewExtensionType(fd.Extensions().ByName("score"))
	extra := dynamicpb.NewExtensionType(fd.Extensions().ByName("extra"))
	notes := dynamicpb.NewExtensionType(fd.Extensions().ByName("notes"))

	kid := dynamicpb.NewMessage(row2Desc)
	kid.Set(row2Desc.Fields().ByName("s"), protoreflect.ValueOfString("k"))
	nl := kid.NewField(notes.TypeDescriptor()).List()
	nl.Append(protoreflect.ValueOfString("n1"))
	kid.Set(notes.TypeDescriptor(), protoreflect.ValueOfList(nl))

	msg := dynamicpb.NewMessage(rowDesc)
	msg.Set(rowDesc.Fields().ByName("id"), protoreflect.ValueOfString("r"))
	msg.Set(rowDesc.Fields().ByName("hits"), protoreflect.ValueOfInt64(3))
	msg.Set(score.TypeDescriptor(), protoreflect.ValueOfInt64(-70))
	msg.Set(extra.TypeDescriptor(), protoreflect.ValueOfMessage(proto.Clone(kid).ProtoReflect()))
	kids := msg.Mutable(rowDesc.Fields().ByName("kids")).Map()
	kids.Set(protoreflect.ValueOfString("a").MapKey(), protoreflect.ValueOfMessage(kid))

	table, err := db.Table("Row")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := table.RowOf(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, ref, msg); err != nil {
		t.Fatal(err)
	}
	stored, err := runtime.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for name, db := range map[string]*runtime.DB{"given schema": db, "stored schema": stored} {
		table, err := db.Table("Row")
		if err != nil {
			t.Fatal(err)
		}
		ref, err := table.Row(protoreflect.ValueOfString("r"))
		if err != nil {
			t.Fatal(err)
		}
		got := db.NewMessage(table.Schema().Desc)
		if err := db.Get(ctx, ref, got.Interface()); err != nil {
			t.Fatalf("%s: Get: %v", name, err)
		}
		if !proto.Equal(got.Interface(), msg) && name == "given schema" {
			t.Errorf("%s: Get = %v, want %v", name, got, msg)
		}
		want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		gotBytes, _ := proto.MarshalOptions{Deterministic: true}.Marshal(got.Interface())
		if string(want) != string(gotBytes) {
			t.Errorf("%s: Get = %v, want %v", name, got, msg)
		}
		checkResolved(t, name, got, map[protoreflect.FullName]int{"xdyn.score": 1, "xdyn.extra": 1, "xdyn.notes": 2})
	}
}

// checkResolved counts the extensions set in m and the messages inside it
// and fails when they are not exactly want (an unresolved extension is an
// unknown field and not counted), or when any unknown field is left.
func checkResolved(t *testing.T, where string, m protoreflect.Message, want map[protoreflect.FullName]int) {
	t.Helper()
	got := map[protoreflect.FullName]int{}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if len(m.GetUnknown()) > 0 {
			t.Errorf("%s: %s has unknown fields %x", where, m.Descriptor().FullName(), m.GetUnknown())
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.IsExtension() {
				got[fd.FullName()]++
			}
			switch {
			case fd.IsMap():
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message())
					return true
				})
			case fd.Message() != nil && !fd.IsList():
				walk(v.Message())
			}
			return true
		})
	}
	walk(m)
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: extension %s set %d times, want %d", where, name, got[name], n)
		}
	}
}
