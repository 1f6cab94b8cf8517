package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/golden"
	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/schema"
)

func TestDescribeKeysGolden(t *testing.T) {
	c, err := schema.Compile(testpb.File_protoql_test_v1_social_proto)
	if err != nil {
		t.Fatal(err)
	}
	golden.File(t, "testdata/describe-keys.golden", []byte(c.DescribeKeys()))
}

func TestFileDescriptorSetRoundTrip(t *testing.T) {
	c, err := schema.Compile(testpb.File_protoql_test_v1_social_proto)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := schema.FromFileDescriptorSet(c.FileDescriptorSet())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c2.DescribeKeys(), c.DescribeKeys(); got != want {
		t.Errorf("catalog from stored set differs:\ngot:\n%s\nwant:\n%s", got, want)
	}
	if err := schema.CheckCompatible(c, c2); err != nil {
		t.Errorf("CheckCompatible(c, itself) = %v, want nil", err)
	}
}

func compile(t testing.TB, src string) (*schema.Catalog, error) {
	t.Helper()
	files, _, err := prototest.Compile(map[string]string{"t.proto": src}, "t.proto")
	if err != nil {
		t.Fatalf("protocompile: %v", err)
	}
	return schema.Compile(files...)
}

const header = `syntax = "proto3";
package t;
import "protoql/v1/options.proto";
`

func TestRejections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"duplicate id", `message A { option (protoql.v1.table) = {id: 1}; }
message B { option (protoql.v1.table) = {id: 1}; }`,
			"t.proto:5:1: t.B: table id 1 is already used by t.A; ids must be unique"},
		{"zero id", `message A { option (protoql.v1.table) = {key: ["a"]}; string a = 1; }`,
			"t.proto:4:1: t.A: table id must be at least 1"},
		{"unknown key field", `message A { option (protoql.v1.table) = {id: 1, key: ["nope"]}; string a = 1; }`,
			`t.proto:4:1: t.A: key field "nope" is not a field of A`},
		{"double key", `message A { option (protoql.v1.table) = {id: 1, key: ["a", "b"]}; double a = 1; string b = 2; }`,
			"t.proto:4:67: t.A.a: key field has type double; key fields must be string, bytes, bool, enum or an integer type"},
		{"message key", `message A { option (protoql.v1.table) = {id: 1, key: ["b"]}; B b = 1; }
message B {}`,
			"t.proto:4:62: t.A.b: key field has type message t.B; key fields must be"},
		{"repeated key", `message A { option (protoql.v1.table) = {id: 1, key: ["a"]}; repeated string a = 1; }`,
			"t.proto:4:62: t.A.a: a key field must be singular"},
		{"breakout repeated", `message A { option (protoql.v1.table) = {id: 1};
  repeated int64 xs = 1 [(protoql.v1.field).breakout = true];
}`, "t.proto:5:3: t.A.xs: breakout applies to singular scalar, enum or message fields, not repeated or map fields"},
		{"breakout map", `message A { option (protoql.v1.table) = {id: 1};
  map<string, int64> m = 1 [(protoql.v1.field).breakout = true];
}`, "t.proto:5:3: t.A.m: breakout applies to singular"},
		{"breakout oneof", `message A { option (protoql.v1.table) = {id: 1};
  oneof o { int64 x = 1 [(protoql.v1.field).breakout = true]; }
}`, "t.proto:5:13: t.A.x: oneof members are stored inline; breakout is not allowed on them"},
		{"apart scalar", `message A { option (protoql.v1.table) = {id: 1};
  int64 x = 1 [(protoql.v1.field).apart = true];
}`, "t.proto:5:3: t.A.x: apart applies to map and object fields; this field is stored as inline"},
		{"apart breakout", `message A { option (protoql.v1.table) = {id: 1};
  B b = 1 [(protoql.v1.field).apart = true, (protoql.v1.field).breakout = true];
}
message B {}`, "t.proto:5:3: t.A.b: apart applies to map and object fields; this field is stored as breakout"},
		{"apart inline", `message A { option (protoql.v1.table) = {id: 1};
  B b = 1 [(protoql.v1.field).apart = true, (protoql.v1.field).inline = true];
}
message B {}`, "t.proto:5:3: t.A.b: apart applies to map and object fields; this field is stored as inline"},
		{"apart join", `message A { option (protoql.v1.table) = {id: 1, key: ["id"]}; string id = 1;
  A a = 2 [(protoql.v1.field).apart = true, (protoql.v1.field).join = {table: "A", key: ["id"]}];
}`, "t.proto:5:3: t.A.a: apart applies to map and object fields; this field is stored as join"},
		{"apart repeated", `message A { option (protoql.v1.table) = {id: 1};
  repeated B bs = 1 [(protoql.v1.field).apart = true];
}
message B {}`, "t.proto:5:3: t.A.bs: apart applies to map and object fields; this field is stored as inline"},
		{"apart key", `message A { option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1 [(protoql.v1.field).apart = true];
}`, "t.proto:5:3: t.A.id: a key field is stored in the key; breakout, inline, join and apart do not apply"},
		{"apart nested", `message A { option (protoql.v1.table) = {id: 1};
  B b = 1;
}
message B { map<string, int64> m = 1 [(protoql.v1.field).apart = true]; }`, "t.proto:7:13: t.B.m: apart applies to fields of a table's row message, not of t.B nested in it"},
		{"breakout and inline", `message A { option (protoql.v1.table) = {id: 1};
  B b = 1 [(protoql.v1.field) = {breakout: true, inline: true}];
}
message B {}`, "t.proto:5:3: t.A.b: breakout and inline exclude each other"},
		{"inline scalar", `message A { option (protoql.v1.table) = {id: 1};
  int64 x = 1 [(protoql.v1.field).inline = true];
}`, "t.proto:5:3: t.A.x: inline applies to message and map fields"},
		{"descending plain field", `message A { option (protoql.v1.table) = {id: 1};
  int64 x = 1 [(protoql.v1.field).descending = true];
}`, "t.proto:5:3: t.A.x: descending applies to key columns and map fields"},
		{"join unknown table", `message A { option (protoql.v1.table) = {id: 1};
  map<string, R> rs = 1;
}
message R { B b = 1 [(protoql.v1.field).join = {table: "Nope", key: ["$rs"]}]; }
message B { string id = 1; }`, `t.proto:7:13: t.R.b: join target: unknown table "Nope" (tables: A)`},
		{"join arity", `message A { option (protoql.v1.table) = {id: 1};
  map<string, R> rs = 1;
}
message R { B b = 1 [(protoql.v1.field).join = {table: "B", key: ["$rs", "$rs"]}]; }
message B { option (protoql.v1.table) = {id: 2, key: ["id"]}; string id = 1; }`,
			"t.proto:7:13: t.R.b: join to B needs 1 key sources (one per key column: id), got 2"},
		{"join key type", `message A { option (protoql.v1.table) = {id: 1};
  map<int64, R> rs = 1;
}
message R { B b = 1 [(protoql.v1.field).join = {table: "B", key: ["$rs"]}]; }
message B { option (protoql.v1.table) = {id: 2, key: ["id"]}; string id = 1; }`,
			`t.proto:7:13: t.R.b: join key source "$rs" is a int but key column id of B is a string`},
		{"join no enclosing map", `message A { option (protoql.v1.table) = {id: 1};
  R r = 1;
}
message R { B b = 1 [(protoql.v1.field).join = {table: "B", key: ["$rs"]}]; }
message B { option (protoql.v1.table) = {id: 2, key: ["id"]}; string id = 1; }`,
			`t.proto:7:13: t.R.b: join key source "$rs" names no enclosing map field (enclosing maps: none)`},
		{"join wrong type", `message A { option (protoql.v1.table) = {id: 1};
  map<string, R> rs = 1;
}
message R { C b = 1 [(protoql.v1.field).join = {table: "B", key: ["$rs"]}]; }
message B { option (protoql.v1.table) = {id: 2, key: ["id"]}; string id = 1; }
message C {}`, "t.proto:7:13: t.R.b: join field has type t.C but table B stores t.B"},
		{"join repeated", `message A { option (protoql.v1.table) = {id: 1};
  repeated A as = 1 [(protoql.v1.field).join = {table: "A"}];
}`, "t.proto:5:3: t.A.as: join applies to singular message fields, not message t.A"},
		{"recursive object", `message A { option (protoql.v1.table) = {id: 1}; N n = 1; }
message N { N next = 1; }`, "t.proto:5:13: t.N.next: message t.N contains itself through this field; mark a recursive field inline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(t, header+tt.src)
			if err == nil {
				t.Fatalf("Compile succeeded, want error %q", tt.want)
			}
			if !errors.Is(err, schema.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
		})
	}
}

func TestProto2GroupRejected(t *testing.T) {
	files, _, err := prototest.Compile(map[string]string{"g.proto": `syntax = "proto2";
package g;
import "protoql/v1/options.proto";
message A {
  option (protoql.v1.table) = {id: 1};
  optional group G = 1 { optional int32 x = 2; }
}`}, "g.proto")
	if err != nil {
		t.Fatal(err)
	}
	_, err = schema.Compile(files...)
	if err == nil || !strings.Contains(err.Error(), "g.proto:6:3: g.A.g: groups (and delimited message encoding) are not supported") {
		t.Errorf("got %v, want a positioned group rejection", err)
	}
}

func TestRecursiveInlineAccepted(t *testing.T) {
	_, err := compile(t, header+`message A { option (protoql.v1.table) = {id: 1}; N n = 1; }
message N { N next = 1 [(protoql.v1.field).inline = true]; map<string, N> kids = 2 [(protoql.v1.field).inline = true]; }`)
	if err != nil {
		t.Errorf("recursive inline fields: got %v, want nil", err)
	}
}

func TestCheckCompatible(t *testing.T) {
	t.Parallel()
	const base = `message U {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  int64 a = 2;
  int64 b = 3 [(protoql.v1.field).breakout = true];
  map<string, S> m = 4;
}
message S { int64 x = 1; }
`
	tests := []struct {
		name, next string
		want       string // "" = compatible
	}{
		{"same", base, ""},
		{"renames", strings.NewReplacer("U {", "User {", "int64 a", "int64 aa", " m = 4", " mm = 4").Replace(base), ""},
		{"new field and table", base + `message V { option (protoql.v1.table) = {id: 2}; }`, ""},
		{"new field", strings.Replace(base, "int64 a = 2;", "int64 a = 2; string c = 5;", 1), ""},
		{"removed inline field", strings.Replace(base, "int64 a = 2;", "", 1), ""},
		{"dropped table", `message V { option (protoql.v1.table) = {id: 2}; }`, "table t.U (id 1) is in the stored schema but not in the new one"},
		{"key type", strings.Replace(base, "string id = 1;", "int64 id = 1;", 1), "key column 1 changed from field 1 (string) to field 1 (int64)"},
		{"key direction", strings.Replace(base, "string id = 1;", "string id = 1 [(protoql.v1.field).descending = true];", 1), "changed from field 1 (string) to field 1 (~string)"},
		{"type change", strings.Replace(base, "int64 a = 2;", "string a = 2;", 1), "U field 2 (a) changed type from int64 to string"},
		{"breakout to inline", strings.Replace(base, " [(protoql.v1.field).breakout = true]", "", 1), "U field 3 (b) moved from breakout to inline storage"},
		{"removed breakout", strings.Replace(base, "int64 b = 3 [(protoql.v1.field).breakout = true];", "", 1), "U field 3 (b) was removed, but it is stored under its own keys (breakout)"},
		{"map key", strings.Replace(base, "map<string, S>", "map<int64, S>", 1), "U field 4 (m) changed its map key from string to int64"},
		{"nested", strings.Replace(base, "int64 x = 1;", "bytes x = 1;", 1), "U.m field 1 (x) changed type from int64 to bytes"},
		{"map moved apart", strings.Replace(base, "map<string, S> m = 4;", "map<string, S> m = 4 [(protoql.v1.field).apart = true];", 1),
			"U field 4 (m) moved apart from the row: its keys are stored under the row (colocated)"},
	}
	old, err := compile(t, header+base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := compile(t, header+tt.next)
			if err != nil {
				t.Fatal(err)
			}
			err = schema.CheckCompatible(old, next)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want compatible", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !errors.Is(err, schema.ErrIncompatible):
				t.Errorf("error %v does not wrap ErrIncompatible", err)
			}
		})
	}
}

func TestCheckCompatibleApartToColocated(t *testing.T) {
	t.Parallel()
	const apart = `message U {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  S s = 2 [(protoql.v1.field).apart = true];
}
message S { int64 x = 1; }
`
	old, err := compile(t, header+apart)
	if err != nil {
		t.Fatal(err)
	}
	next, err := compile(t, header+strings.Replace(apart, " [(protoql.v1.field).apart = true]", "", 1))
	if err != nil {
		t.Fatal(err)
	}
	err = schema.CheckCompatible(old, next)
	if want := "U field 2 (s) moved under the row (colocated): its keys are stored apart from the row"; err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, schema.ErrIncompatible) {
		t.Errorf("got %v, want an ErrIncompatible containing %q", err, want)
	}
	if err := schema.CheckCompatible(old, old); err != nil {
		t.Errorf("same apart schema: %v", err)
	}
}

func TestDescribeKeysApartGolden(t *testing.T) {
	c, err := schema.Compile(apartpb.File_protoql_test_apart_v1_apart_proto)
	if err != nil {
		t.Fatal(err)
	}
	golden.File(t, "testdata/describe-keys-apart.golden", []byte(c.DescribeKeys()))
}
