package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/schema"
)

// TestRecursionReportedOnce checks that a recursive message is reported once
// per cycle, however many tables and fields reach it, on the field that
// closes the cycle (the row's own message is on the path too).
func TestRecursionReportedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string // every error, in order
	}{
		{"self", `message A { option (protoql.v1.table) = {id: 1}; A child = 1; }`,
			[]string{"t.proto:4:50: t.A.child: message t.A contains itself through this field; mark a recursive field inline"}},
		{"through another message", `message A { option (protoql.v1.table) = {id: 1}; B b = 1; }
message B { A a = 1; }`,
			[]string{"t.proto:5:13: t.B.a: message t.A contains itself through t.A.b → t.B.a; mark one of these fields inline"}},
		{"many paths", `message A { option (protoql.v1.table) = {id: 1}; N n1 = 1; N n2 = 2; map<string, N> ns = 3; }
message B { option (protoql.v1.table) = {id: 2}; N n = 1; map<int64, N> ns = 2; }
message N { N next = 1; map<string, N> kids = 2; }`,
			[]string{
				"t.proto:6:13: t.N.next: message t.N contains itself through this field",
				"t.proto:6:25: t.N.kids: message t.N contains itself through this field",
			}},
		{"map cycle", `message A { option (protoql.v1.table) = {id: 1}; map<string, B> bs = 1; }
message B { C c = 1; }
message C { map<string, B> bs = 1; }`,
			[]string{"t.proto:6:13: t.C.bs: message t.B contains itself through t.B.c → t.C.bs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(t, header+tt.src)
			if !errors.Is(err, schema.ErrInvalid) {
				t.Fatalf("got %v, want a schema error", err)
			}
			var parts []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				parts = j.Unwrap()
			}
			if len(parts) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(parts), len(tt.want), err)
			}
			for i, part := range parts {
				if !strings.Contains(part.Error(), tt.want[i]) {
					t.Errorf("error %d:\n  got  %v\n  want it to contain %s", i, part, tt.want[i])
				}
			}
		})
	}
}

// TestGroupsRefusedEverywhere checks that a group is refused wherever its
// message is stored: decomposed, inline, breakout, in a list or a map value,
// however deep.
func TestGroupsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	const head = `syntax = "proto2";
package g;
import "protoql/v1/options.proto";
`
	tests := []struct{ name, src, want string }{
		{"inline message", `message A { option (protoql.v1.table) = {id: 1}; optional In in = 1 [(protoql.v1.field).inline = true]; }
message In { optional group G = 1 { optional int32 x = 2; } }`, "g.proto:5:14: g.In.g: groups"},
		{"breakout message", `message A { option (protoql.v1.table) = {id: 1}; optional In in = 1 [(protoql.v1.field).breakout = true]; }
message In { optional group G = 1 { optional int32 x = 2; } }`, "g.proto:5:14: g.In.g: groups"},
		{"list, two levels down", `message A { option (protoql.v1.table) = {id: 1}; repeated Mid mids = 1; }
message Mid { optional In in = 1; }
message In { repeated group G = 1 { optional int32 x = 2; } }`, "g.proto:6:14: g.In.g: groups"},
		{"inline map value", `message A { option (protoql.v1.table) = {id: 1}; map<string, In> ins = 1 [(protoql.v1.field).inline = true]; }
message In { optional group G = 1 { optional int32 x = 2; } }`, "g.proto:5:14: g.In.g: groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, _, err := prototest.Compile(map[string]string{"g.proto": head + tt.src}, "g.proto")
			if err != nil {
				t.Fatal(err)
			}
			_, err = schema.Compile(files...)
			if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRequiredRefusedEverywhere checks that a required field (proto2's
// label, editions' LEGACY_REQUIRED) is refused wherever it is stored: a
// key column, a decomposed object, a map value, a breakout, inside an
// inline message or a list. Accepted, it makes every Put fail (the row's
// value lacks its key columns) and a blind breakout write leaves an entry
// that no longer parses.
func TestRequiredRefusedEverywhere(t *testing.T) {
	t.Parallel()
	const head = `syntax = "proto2";
package r;
import "protoql/v1/options.proto";
`
	tests := []struct{ name, src, want string }{
		{"key column", `message A { option (protoql.v1.table) = {id: 1, key: ["id"]}; required string id = 1; }`,
			"r.proto:4:63: r.A.id: required fields are not supported"},
		{"row field", `message A { option (protoql.v1.table) = {id: 1}; required int64 n = 1; }`,
			"r.proto:4:50: r.A.n: required fields"},
		{"map value, decomposed", `message A { option (protoql.v1.table) = {id: 1}; map<string, V> vs = 1; }
message V { optional int64 hits = 1 [(protoql.v1.field).breakout = true]; required string s = 2; }`,
			"r.proto:5:75: r.V.s: required fields"},
		{"breakout message", `message A { option (protoql.v1.table) = {id: 1}; optional In in = 1 [(protoql.v1.field).breakout = true]; }
message In { required int32 x = 1; }`, "r.proto:5:14: r.In.x: required fields"},
		{"list, two levels down", `message A { option (protoql.v1.table) = {id: 1}; repeated Mid mids = 1; }
message Mid { optional In in = 1; }
message In { required int32 x = 1; }`, "r.proto:6:14: r.In.x: required fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, _, err := prototest.Compile(map[string]string{"r.proto": head + tt.src}, "r.proto")
			if err != nil {
				t.Fatal(err)
			}
			_, err = schema.Compile(files...)
			if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("editions LEGACY_REQUIRED", func(t *testing.T) {
		files, _, err := prototest.Compile(map[string]string{"e.proto": `edition = "2023";
package e;
import "protoql/v1/options.proto";
message A {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  string id = 1;
  string must = 2 [features.field_presence = LEGACY_REQUIRED];
}`}, "e.proto")
		if err != nil {
			t.Fatal(err)
		}
		_, err = schema.Compile(files...)
		if !errors.Is(err, schema.ErrInvalid) || !strings.Contains(err.Error(), "e.proto:7:3: e.A.must: required fields") {
			t.Errorf("got %v, want the LEGACY_REQUIRED field refused", err)
		}
	})
}
