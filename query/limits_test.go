package query_test

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

// limitsCatalog has a bytes key (Team) and a table joined to itself
// (Node), so joins nest as deep as a query asks.
var limitsCatalog = sync.OnceValue(func() *schema.Catalog {
	const src = `syntax = "proto3";
package limits.v1;
import "protoql/v1/options.proto";
message Team {
  option (protoql.v1.table) = {id: 1, key: ["id"]};
  bytes id = 1;
  string name = 2;
}
message Node {
  option (protoql.v1.table) = {id: 2, key: ["id"]};
  string id = 1;
  string next_id = 2;
  Node next = 3 [(protoql.v1.field).join = {table: "Node", key: ["next_id"]}];
  map<string, Node2> kids = 4;
}
message Node2 {
  Node node = 1 [(protoql.v1.field).join = {table: "Node", key: ["$kids"]}];
}`
	files, _, err := prototest.Compile(map[string]string{"limits.proto": src}, "limits.proto")
	if err != nil {
		panic(err)
	}
	cat, err := schema.Compile(files...)
	if err != nil {
		panic(err)
	}
	return cat
})

// wantError requires a *query.Error wrapping sentinel at line:col.
func wantError(t *testing.T, what string, err, sentinel error, line, col int) *query.Error {
	t.Helper()
	var qe *query.Error
	if !errors.As(err, &qe) || !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v, want a *query.Error wrapping %v", what, err, sentinel)
	}
	if qe.Pos.Line != line || qe.Pos.Column != col {
		t.Fatalf("%s: error at %d:%d, want %d:%d: %v", what, qe.Pos.Line, qe.Pos.Column, line, col, err)
	}
	return qe
}

// TestInvalidUTF8 refuses raw bytes that are not UTF-8 anywhere in the
// text, at the byte; the same bytes written as escapes reach a bytes key.
func TestInvalidUTF8(t *testing.T) {
	cat := limitsCatalog()
	_, err := query.Compile(cat, "Team[\"a\xffb\"]")
	wantError(t, "raw 0xFF in a string", err, query.ErrSyntax, 1, 8)
	_, err = query.Compile(cat, "Team[\"x\"] # caf\xe9\n{ name }")
	wantError(t, "raw Latin-1 in a comment", err, query.ErrSyntax, 1, 16)
	_, err = query.Compile(cat, "Team[\"é\"]\n{ name \xc3 }")
	wantError(t, "truncated sequence on line 2", err, query.ErrSyntax, 2, 8)

	q, err := query.Compile(cat, `Team["a\xffb"] { name }`)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(q.Plan().Root.Points[0].Value.Bytes()); got != "a\xffb" {
		t.Errorf("escaped key: got %q, want %q", got, "a\xffb")
	}
}

// allocated returns the bytes allocated while f runs. The tests using it
// do not run in parallel, so little else allocates meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileQueries sends queries far larger and deeper than any real
// one: each must come back as a clean positioned error, in memory (and so
// time) proportional to what the limits let through, never to the input.
func TestHostileQueries(t *testing.T) {
	cat := limitsCatalog()
	huge := query.WithLimits(query.Limits{MaxTextBytes: 64 << 20})
	cases := []struct {
		name      string
		text      string
		opts      []query.Option
		sentinel  error
		line, col int
		maxAlloc  uint64
	}{
		// Refused by size before anything else: no parse at all.
		{"10 MB with a syntax error at its end", "Node { " + strings.Repeat("id ", 10<<20/3) + "] }", nil, query.ErrLimit, 1, 65537, 4 << 10},
		{"400 KB of unclosed braces", "Node" + strings.Repeat("{a", 200_000), nil, query.ErrLimit, 1, 65537, 4 << 10},
		// With the size limit lifted, the depth limit stops the parser
		// at the first '{' too deep, having built 32 levels.
		{"400 KB of unclosed braces, no size limit", "Node" + strings.Repeat("{a", 200_000), []query.Option{huge}, query.ErrLimit, 1, 5 + 2*32, 64 << 10},
		{"9 MB of closed braces, no size limit", "Node" + strings.Repeat("{a", 3_000_000) + strings.Repeat("}", 3_000_000), []query.Option{huge}, query.ErrLimit, 1, 5 + 2*32, 64 << 10},
		{"33 nested joins", "Node" + strings.Repeat("{next", 33) + strings.Repeat("}", 33), nil, query.ErrLimit, 1, 5 + 5*32, 64 << 10},
	}
	for _, c := range cases {
		var err error
		n := allocated(func() { _, err = query.Compile(cat, c.text, c.opts...) })
		qe := wantError(t, c.name, err, c.sentinel, c.line, c.col)
		if n > c.maxAlloc {
			t.Errorf("%s: %d bytes allocated, want at most %d", c.name, n, c.maxAlloc)
		}
		if len(qe.Error()) > 200 {
			t.Errorf("%s: %d-byte message %.300q…", c.name, len(qe.Error()), qe.Error())
		}
	}
}

// TestErrorsQuoteLittle: names and literals of any length are quoted
// clipped, so a message never echoes megabytes back to the client.
func TestErrorsQuoteLittle(t *testing.T) {
	cat := limitsCatalog()
	huge := query.WithLimits(query.Limits{MaxTextBytes: 64 << 20})
	long := strings.Repeat("9", 1<<20)
	for _, text := range []string{
		"Node[" + long + "]",                          // a 1 MB integer for a string key
		"Node[\"" + long + "\"](first: " + long + ")", // first out of range
		"Node(zzz" + long + ": 1)",                    // unknown argument
		"Node { a" + long + " }",                      // unknown field
		"T" + long,                                    // unknown table
		"Node[\"" + long + "\\q\"]",                   // bad escape
		"Node[\"x\" " + long + "]",                    // syntax: unexpected integer
		"Node(after: \"" + long + "\")",               // not a cursor
	} {
		_, err := query.Compile(cat, text, huge)
		if err == nil {
			t.Fatalf("%.40q…: compiled", text)
		}
		if len(err.Error()) > 1<<10 {
			t.Errorf("%.40q…: %d-byte message: %.300s…", text, len(err.Error()), err)
		}
	}
}

// TestCompileLinear compiles valid queries at the size limit: memory grows
// in proportion to the text, with a small constant, and so does Explain.
func TestCompileLinear(t *testing.T) {
	cat := limitsCatalog()
	// As many key literals, variables and fields as 64 KiB hold: a map
	// selected at every level, with keys, each level a join.
	var sb strings.Builder
	sb.WriteString(`Node["a"]`)
	depth := 0
	for sb.Len() < 60<<10 && depth < 16 {
		sb.WriteString(` { id, next_id, kids["` + strings.Repeat("k", 3700) + `"..$v` + strings.Repeat("x", 100) + `] { node`)
		depth++
	}
	sb.WriteString(strings.Repeat(" } }", depth))
	text := sb.String()
	var q *query.Query
	var err error
	n := allocated(func() { q, err = query.Compile(cat, text) })
	if err != nil {
		t.Fatal(err)
	}
	if perByte := n / uint64(len(text)); perByte > 16 {
		t.Errorf("compiling %d bytes allocated %d bytes (%d per byte), want at most 16 per byte", len(text), n, perByte)
	}
	var plan string
	n = allocated(func() { plan = q.Explain() })
	if perByte := len(plan) / len(text); perByte > 16 {
		t.Errorf("Explain of %d bytes of query is %d bytes (%d per byte), want at most 16 per byte", len(text), len(plan), perByte)
	}
	if perByte := n / uint64(len(text)); perByte > 64 {
		t.Errorf("Explain of %d bytes allocated %d bytes (%d per byte), want at most 64 per byte", len(text), n, perByte)
	}
}

// TestDeepJoinsExplainLinear: joins nested as deep as MaxDepthLimit allows
// explain in output linear in the query.
func TestDeepJoinsExplainLinear(t *testing.T) {
	cat := limitsCatalog()
	d := query.MaxDepthLimit
	text := "Node[\"a\"]" + strings.Repeat("{next", d) + strings.Repeat("}", d)
	q, err := query.Compile(cat, text, query.WithLimits(query.Limits{MaxDepth: 1 << 30}))
	if err != nil {
		t.Fatal(err)
	}
	if plan := q.Explain(); len(plan) > 200*len(text) {
		t.Errorf("Explain of %d nested joins (%d bytes): %d bytes, want at most %d", d, len(text), len(plan), 200*len(text))
	}
	_, err = query.Compile(cat, "Node[\"a\"]"+strings.Repeat("{next", d+1)+strings.Repeat("}", d+1), query.WithLimits(query.Limits{MaxDepth: 1 << 30}))
	wantError(t, "joins deeper than MaxDepthLimit", err, query.ErrLimit, 1, 10+5*d)
}
