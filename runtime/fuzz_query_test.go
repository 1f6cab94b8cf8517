package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzQuery compiles random query text against a schema and runs what
// compiles on a small database with data: the testpb schema with
// qExampleData, or joinSchema (key-column, inline, map-key and self
// joins). Variables are bound from the fuzzed string and integer. Any
// error is fine except a corruption error (the data is sound); a panic or
// a query that does not end is a failure, and so is a result that
// protobuf-go cannot decode again.
func FuzzQuery(f *testing.F) {
	for _, s := range execSeeds(f) {
		f.Add(s, "alice", int64(1), false)
	}
	for _, s := range []string{
		`Notebook["ann", "groceries"] { title, owner_info { display } }`,
		`Notebook { pages(first: $n) { author { display } }, editor_info }`,
		`Node["a"] { next { next { next { id } } } }`,
		`Node[$s..](reverse: $r, after: $c) { next }`,
	} {
		f.Add(s, "a", int64(2), true)
	}
	social := openDB(f, memkv.New())
	querytest.Put(f, social, qExampleData()...)
	joins := openJoinDB(f, joinRows...)
	f.Fuzz(func(t *testing.T, text, s string, n int64, useJoins bool) {
		db := social
		if useJoins {
			db = joins
		}
		q, err := query.Compile(db.Catalog(), text)
		if err != nil {
			wantQueryError(t, text, err)
			return
		}
		_ = q.Explain()
		vars := fuzzVars(q.Plan(), s, n)
		b, err := q.Bind(vars)
		if err != nil {
			wantQueryError(t, text, err)
			return
		}
		_ = b.Explain()
		runFuzzed(t, db, q, vars)
	})
}

// hangAfter bounds one fuzzed query on a database of a few dozen rows: far
// beyond any honest run, so reaching it means the executor does not end.
const hangAfter = time.Minute

func runFuzzed(t *testing.T, db *runtime.DB, q *query.Query, vars map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), hangAfter)
	defer cancel()
	lim := runtime.WithLimits(query.Limits{MaxKeys: 100_000})
	for res, err := range db.Query(ctx, q, vars, runtime.WithCursorKey(querytest.CursorKey), lim) {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("%s: did not end in %v", q.Text(), hangAfter)
		case errors.Is(err, runtime.ErrCorrupt):
			t.Fatalf("%s: sound data reads as corrupt: %v", q.Text(), err)
		case err != nil:
			return
		}
		raw, err := proto.Marshal(res.Msg)
		if err != nil {
			t.Fatalf("%s: result does not marshal: %v", q.Text(), err)
		}
		again := res.Msg.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(raw, again); err != nil {
			t.Fatalf("%s: result does not decode: %v", q.Text(), err)
		}
	}
}

// wantQueryError requires a *query.Error positioned inside the text (or
// with no position).
func wantQueryError(t *testing.T, text string, err error) {
	t.Helper()
	var qe *query.Error
	if !errors.As(err, &qe) {
		t.Fatalf("%q: error %v is not a *query.Error", text, err)
	}
	if qe.Pos.Offset > len(text) || qe.Pos.Line < 0 {
		t.Fatalf("%q: error %v is positioned outside the text (%+v)", text, err, qe.Pos)
	}
	if len(qe.Msg) > 8<<10 {
		t.Fatalf("%q: error message of %d bytes", text, len(qe.Msg))
	}
}

// fuzzVars binds every variable of p from s and n, by type, mostly to
// values the type accepts.
func fuzzVars(p *query.Plan, s string, n int64) map[string]any {
	vars := map[string]any{}
	for _, v := range p.Vars {
		switch v.Type.Arg {
		case "first":
			vars[v.Name] = 1 + (n&0xff)%5
			continue
		case "after":
			vars[v.Name] = s
			continue
		case "reverse":
			vars[v.Name] = n%2 == 0
			continue
		}
		switch v.Type.Field.Kind() {
		case protoreflect.StringKind:
			vars[v.Name] = s
		case protoreflect.BytesKind:
			vars[v.Name] = []byte(s)
		case protoreflect.BoolKind:
			vars[v.Name] = n%2 == 0
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			vars[v.Name] = uint64(n)
		case protoreflect.EnumKind:
			vars[v.Name] = int32(n)
		default:
			vars[v.Name] = n
		}
	}
	return vars
}

// execSeeds returns the queries of testdata/exec.txt.
func execSeeds(t testing.TB) []string {
	file, err := os.Open("testdata/exec.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var seeds []string
	var cur []string
	in := false
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "query"):
			in, cur = true, nil
		case in && line == "----":
			seeds = append(seeds, strings.Join(cur, "\n"))
			in = false
		case in:
			cur = append(cur, line)
		}
	}
	return seeds
}

// joinRows is the data FuzzQuery runs joinSchema queries on.
var joinRows = []string{
	"Owner", `name: "ann" display: "Ann"`,
	"Owner", `name: "bo" display: "Bo"`,
	"Notebook", `owner: "ann" name: "groceries" title: "G" editor: "bo" pages { key: "ann" value { text: "milk" } } pages { key: "x" value { text: "?" } }`,
	"Notebook", `owner: "bo" name: "work" editor: "nobody"`,
	"Node", `id: "a" next_id: "b"`,
	"Node", `id: "b" next_id: "c"`,
	"Node", `id: "c" next_id: "a"`,
	"Node", `id: "d"`,
}
