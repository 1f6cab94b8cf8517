package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
)

// TestPutLaxUTF8 is TestPutRefusesBadUTF8's other half: a string that
// protobuf does not require to be UTF-8 (proto2, an editions field with
// utf8_validation = NONE) is written and read back as it is, in an
// inline field (the inline plan's flags), a map key and a map value,
// while an editions field that keeps VERIFY is refused. The write path
// must refuse exactly what schema.EnforceUTF8 refuses.
func TestPutLaxUTF8(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, src, table string
		set              map[string]string // field name to the bad string
		strict           string            // a field whose bad string is refused
	}{
		{"proto2", `syntax = "proto2";
package lax2put;
import "protoql/v1/options.proto";
message Lax2 {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  optional string id = 1;
  optional string note = 2;
  map<string, string> tags = 3;
  optional Inner inner = 4;
}
message Inner { optional string text = 1; }`, "lax2put.Lax2", map[string]string{"note": "n\xff", "inner.text": "a long inner text\xc3"}, ""},
		{"editions", `edition = "2023";
package lax23put;
import "protoql/v1/options.proto";
message Lax23 {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  string note = 2 [features.utf8_validation = NONE];
  string strict = 3;
  Inner inner = 4;
}
message Inner { string text = 1 [features.utf8_validation = NONE]; }`, "lax23put.Lax23", map[string]string{"note": "n\xff", "inner.text": "a long inner text\xc3"}, "strict"},
	} {
		files := laxFiles(t, c.name+".proto", c.src)
		db, err := runtime.Open(ctx, memkv.New(), runtime.WithSchema(files...))
		if err != nil {
			t.Fatal(err)
		}
		tb := table(t, db, c.table)
		desc := files[len(files)-1].Messages().Get(0)
		m := dynamicpb.NewMessage(desc)
		m.Set(desc.Fields().ByName("id"), protoreflect.ValueOfString("row"))
		for path, s := range c.set {
			target := protoreflect.Message(m)
			names := strings.Split(path, ".")
			for _, n := range names[:len(names)-1] {
				target = target.Mutable(target.Descriptor().Fields().ByName(protoreflect.Name(n))).Message()
			}
			target.Set(target.Descriptor().Fields().ByName(protoreflect.Name(names[len(names)-1])), protoreflect.ValueOfString(s))
		}
		if fd := desc.Fields().ByName("tags"); fd != nil {
			m.Mutable(fd).Map().Set(protoreflect.ValueOfString("k\xfe").MapKey(), protoreflect.ValueOfString("v\xfd"))
		}
		ref, err := tb.RowOf(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(ctx, ref, m); err != nil {
			t.Fatalf("%s: Put of strings that need not be UTF-8: %v", c.name, err)
		}
		got := dynamicpb.NewMessage(desc)
		if err := db.Get(ctx, ref, got); err != nil {
			t.Fatalf("%s: Get: %v", c.name, err)
		}
		if !proto.Equal(got, m) {
			t.Errorf("%s: read back %v, wrote %v", c.name, got, m)
		}
		if c.strict != "" {
			m.Set(desc.Fields().ByName(protoreflect.Name(c.strict)), protoreflect.ValueOfString("s\xff"))
			if err := db.Put(ctx, ref, m); !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), "UTF-8") {
				t.Errorf("%s: Put with %s invalid: %v, want the UTF-8 error", c.name, c.strict, err)
			}
		}
	}
}
