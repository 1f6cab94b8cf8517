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
