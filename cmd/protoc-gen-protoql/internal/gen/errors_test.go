package gen_test

import (
	"strings"
	"testing"

	"github.com/protoql/protoql/cmd/protoc-gen-protoql/internal/gen"
	"github.com/protoql/protoql/internal/prototest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

const errHeader = `syntax = "proto3";
package t;
import "protoql/v1/options.proto";
option go_package = "example.com/t;t";
`

// TestRejected checks that every kind of schema the catalog rejects comes
// back as the plugin's error, positioned at the offending element, and that
// nothing is generated.
func TestRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"duplicate table id", errHeader + `message A { option (protoql.v1.table) = {id: 1}; }
message B { option (protoql.v1.table) = {id: 1}; }`,
			"schema: t.proto:6:1: t.B: table id 1 is already used by t.A; ids must be unique"},
		{"unknown key field", errHeader + `message A {
  option (protoql.v1.table) = {id: 1, key: ["nope"]};
  string id = 1;
}`, `schema: t.proto:5:1: t.A: key field "nope" is not a field of A`},
		{"float key", errHeader + `message A {
  option (protoql.v1.table) = {id: 1, key: ["x"]};
  float x = 1;
}`, "schema: t.proto:7:3: t.A.x: key field has type float; key fields must be string, bytes, bool, enum or an integer type"},
		{"message key", errHeader + `message A {
  option (protoql.v1.table) = {id: 1, key: ["b"]};
  B b = 1;
}
message B {}`, "schema: t.proto:7:3: t.A.b: key field has type message t.B"},
		{"breakout on repeated", errHeader + `message A {
  option (protoql.v1.table) = {id: 1};
  repeated int64 xs = 1 [(protoql.v1.field).breakout = true];
}`, "schema: t.proto:7:3: t.A.xs: breakout applies to singular scalar, enum or message fields, not repeated or map fields"},
		{"breakout oneof member", errHeader + `message A {
  option (protoql.v1.table) = {id: 1};
  oneof o { int64 x = 1 [(protoql.v1.field).breakout = true]; }
}`, "schema: t.proto:7:13: t.A.x: oneof members are stored inline; breakout is not allowed on them"},
		{"join oneof member", errHeader + `message A {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  oneof o { A a = 2 [(protoql.v1.field).join = {table: "A", key: ["id"]}]; }
}`, "schema: t.proto:8:13: t.A.a: a join field cannot be a oneof member"},
		{"join unknown table", errHeader + `message A {
  option (protoql.v1.table) = {id: 1};
  map<string, R> rs = 1;
}
message R { B b = 1 [(protoql.v1.field).join = {table: "Nope", key: ["$rs"]}]; }
message B {}`, `schema: t.proto:9:13: t.R.b: join target: unknown table "Nope" (tables: A)`},
		{"join arity", errHeader + `message A {
  option (protoql.v1.table) = {id: 1};
  map<string, R> rs = 1;
}
message R { B b = 1 [(protoql.v1.field).join = {table: "B", key: ["$rs", "$rs"]}]; }
message B { option (protoql.v1.table) = {id: 2, key: ["id"]}; string id = 1; }`,
			"schema: t.proto:9:13: t.R.b: join to B needs 1 key sources (one per key column: id), got 2"},
		{"join key type", errHeader + `message A {
  option (protoql.v1.table) = {id: 1};
  map<int64, R> rs = 1;
}
message R { B b = 1 [(protoql.v1.field).join = {table: "B", key: ["$rs"]}]; }
message B { option (protoql.v1.table) = {id: 2, key: ["id"]}; string id = 1; }`,
			`schema: t.proto:9:13: t.R.b: join key source "$rs" is a int but key column id of B is a string`},
		{"join source", errHeader + `message A {
  option (protoql.v1.table) = {id: 1};
  B b = 1 [(protoql.v1.field).join = {table: "B", key: ["nope"]}];
}
message B { option (protoql.v1.table) = {id: 2, key: ["id"]}; string id = 1; }`,
			`schema: t.proto:7:3: t.A.b: join key source "nope" must be "$<map>" or an inline singular scalar field of A`},
		{"group", `syntax = "proto2";
package t;
import "protoql/v1/options.proto";
option go_package = "example.com/t;t";
message A {
  option (protoql.v1.table) = {id: 1};
  optional group G = 1 { optional int32 x = 2; }
}`, "schema: t.proto:7:3: t.A.g: groups (and delimited message encoding) are not supported; use a length-prefixed message field"},
		{"delimited encoding", `edition = "2023";
package t;
import "protoql/v1/options.proto";
option go_package = "example.com/t;t";
message A {
  option (protoql.v1.table) = {id: 1};
  B b = 1 [features.message_encoding = DELIMITED];
}
message B {}`, "schema: t.proto:7:3: t.A.b: groups (and delimited message encoding) are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, set, err := prototest.Compile(map[string]string{"t.proto": tt.src}, "t.proto")
			if err != nil {
				t.Fatal(err)
			}
			req := &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{"t.proto"}, ProtoFile: set.File}
			resp := run(t, req, gen.Generate)
			if !strings.Contains(resp.GetError(), tt.want) {
				t.Errorf("got plugin error\n  %s\nwant it to contain\n  %s", resp.GetError(), tt.want)
			}
			if len(resp.File) != 0 {
				t.Errorf("got %d generated files with the error, want none", len(resp.File))
			}
		})
	}
}

// TestUnknownParameter checks that a parameter the plugin does not know is
// refused, not ignored.
func TestUnknownParameter(t *testing.T) {
	t.Parallel()
	req := &pluginpb.CodeGeneratorRequest{Parameter: proto.String("module=x,frobnicate=1")}
	resp := run(t, req, gen.Generate)
	if want := `protoc-gen-protoql: unknown parameter "frobnicate=1"`; !strings.Contains(resp.GetError(), want) {
		t.Errorf("got error %q, want it to contain %q", resp.GetError(), want)
	}
}

// TestNoTables checks that files without tables get no .protoql.go.
func TestNoTables(t *testing.T) {
	t.Parallel()
	_, set, err := prototest.Compile(map[string]string{"t.proto": errHeader + "message A { string s = 1; }"}, "t.proto")
	if err != nil {
		t.Fatal(err)
	}
	resp := run(t, &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{"t.proto"}, ProtoFile: set.File}, gen.Generate)
	if resp.Error != nil || len(resp.File) != 0 {
		t.Errorf("got error %q and %d files, want neither", resp.GetError(), len(resp.File))
	}
}

// TestTableIDsPerPackage checks that table ids must be unique within a Go
// package, across its files, but that unrelated packages generated in one
// request (buf's strategy: all) may reuse them.
func TestTableIDsPerPackage(t *testing.T) {
	t.Parallel()
	file := func(pkg, msg string) string {
		return `syntax = "proto3";
package ` + pkg + `;
import "protoql/v1/options.proto";
option go_package = "example.com/` + pkg + `";
message ` + msg + ` { option (protoql.v1.table) = {id: 1}; }
`
	}
	tests := []struct {
		name    string
		sources map[string]string
		want    string // "" = no error
	}{
		{"two packages", map[string]string{"a.proto": file("a", "A"), "b.proto": file("b", "B")}, ""},
		{"one package", map[string]string{"a.proto": file("a", "A"), "b.proto": file("a", "B")},
			"schema: b.proto:5:1: a.B: table id 1 is already used by a.A; ids must be unique"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, set, err := prototest.Compile(tt.sources, "a.proto", "b.proto")
			if err != nil {
				t.Fatal(err)
			}
			resp := run(t, &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{"a.proto", "b.proto"}, ProtoFile: set.File}, gen.Generate)
			switch {
			case tt.want == "" && resp.Error != nil:
				t.Errorf("got error %q, want none", resp.GetError())
			case tt.want == "" && len(resp.File) != 2:
				t.Errorf("got %d files, want 2", len(resp.File))
			case tt.want != "" && !strings.Contains(resp.GetError(), tt.want):
				t.Errorf("got error %q, want it to contain %q", resp.GetError(), tt.want)
			}
		})
	}
}

// TestOptionsGoPackageMoved checks that a request moving protoql's
// options.proto to another Go package (buf managed mode's
// go_package_prefix, or an M parameter) is refused with the fix, instead of
// generating code that links a second copy of the options and panics at
// init.
func TestOptionsGoPackageMoved(t *testing.T) {
	t.Parallel()
	src := errHeader + `message A { option (protoql.v1.table) = {id: 1}; }`
	const moved = "example.com/t/gen/protoql/v1"
	tests := []struct {
		name      string
		goPackage string // options.proto's go_package in the request; "" keeps it
		param     string
		want      string // "" = no error
	}{
		{"kept", "", "", ""},
		{"managed mode prefix", moved + ";protoqlv1", "", `it has Go import path "` + moved + `"`},
		{"M parameter", "", "Mprotoql/v1/options.proto=" + moved, `it has Go import path "` + moved + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, set, err := prototest.Compile(map[string]string{"t.proto": src}, "t.proto")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range set.File {
				if f.GetName() == "protoql/v1/options.proto" && tt.goPackage != "" {
					f.Options.GoPackage = proto.String(tt.goPackage)
				}
			}
			req := &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{"t.proto"}, ProtoFile: set.File}
			if tt.param != "" {
				req.Parameter = proto.String(tt.param)
			}
			resp := run(t, req, gen.Generate)
			if tt.want == "" {
				if resp.Error != nil || len(resp.File) != 1 {
					t.Fatalf("got error %q and %d files, want no error and 1 file", resp.GetError(), len(resp.File))
				}
				return
			}
			for _, want := range []string{gen.ErrOptionsGoPackage.Error(), tt.want, "file_option: go_package"} {
				if !strings.Contains(resp.GetError(), want) {
					t.Errorf("got plugin error\n  %s\nwant it to contain\n  %s", resp.GetError(), want)
				}
			}
			if len(resp.File) != 0 {
				t.Errorf("got %d generated files with the error, want none", len(resp.File))
			}
		})
	}
}
