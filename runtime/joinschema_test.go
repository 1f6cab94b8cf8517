package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/prototest"
	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// joinSchema has the joins the testpb schema lacks: sources that are key
// columns (Notebook.owner) and inline fields (Notebook.editor), and a
// table joined to itself (Node.next), so joins nest as deep as a query
// asks.
const joinSchema = `syntax = "proto3";
package protoql.joins.v1;
import "protoql/v1/options.proto";

message Owner {
  option (protoql.v1.table) = {id: 1, key: ["name"]};
  string name = 1;
  string display = 2;
}

message Notebook {
  option (protoql.v1.table) = {id: 2, key: ["owner", "name"]};
  string owner = 1;
  string name = 2;
  string title = 3;
  Owner owner_info = 4 [(protoql.v1.field).join = {table: "Owner", key: ["owner"]}];
  string editor = 5;
  Owner editor_info = 6 [(protoql.v1.field).join = {table: "Owner", key: ["editor"]}];
  map<string, Page> pages = 7;
}

message Page {
  string text = 1;
  Owner author = 2 [(protoql.v1.field).join = {table: "Owner", key: ["$pages"]}];
}

message Node {
  option (protoql.v1.table) = {id: 3, key: ["id"]};
  string id = 1;
  string next_id = 2;
  Node next = 3 [(protoql.v1.field).join = {table: "Node", key: ["next_id"]}];
}
`

// openJoinDB opens joinSchema on a new memkv store (messages are
// dynamicpb) and puts the rows given as "Table text-format" pairs.
func openJoinDB(t testing.TB, rows ...string) *runtime.DB {
	t.Helper()
	files, _, err := prototest.Compile(map[string]string{"joins.proto": joinSchema}, "joins.proto")
	if err != nil {
		t.Fatal(err)
	}
	db, err := runtime.Open(context.Background(), memkv.New(), runtime.WithSchema(files...))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(rows); i += 2 {
		tbl := table(t, db, rows[i])
		m := joinMsg(t, db, rows[i], rows[i+1])
		ref := must[runtime.Ref](t)(tbl.RowOf(m))
		check(t, db.Put(context.Background(), ref, m))
	}
	return db
}

// joinMsg parses a message of table name from text format.
func joinMsg(t testing.TB, db *runtime.DB, name, text string) proto.Message {
	t.Helper()
	m := db.NewMessage(table(t, db, name).Schema().Desc).Interface()
	if err := prototext.Unmarshal([]byte(text), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestJoinKeepsKeyColumnSource: a join whose key comes from a key column
// of the holding row must not drop that column from the result (key
// fields are always returned), while an inline field read only as a join
// source stays out of it.
func TestJoinKeepsKeyColumnSource(t *testing.T) {
	db := openJoinDB(t,
		"Owner", `name: "ann" display: "Ann"`,
		"Owner", `name: "bo" display: "Bo"`,
		"Notebook", `owner: "ann" name: "groceries" title: "G" editor: "bo" pages { key: "ann" value { text: "milk" } }`,
	)
	cases := []struct{ query, want string }{
		{`Notebook["ann", "groceries"] { title }`,
			`owner: "ann" name: "groceries" title: "G"`},
		{`Notebook["ann", "groceries"] { title, owner_info { display } }`,
			`owner: "ann" name: "groceries" title: "G" owner_info { name: "ann" display: "Ann" }`},
		{`Notebook { owner_info }`,
			`owner: "ann" name: "groceries" owner_info { name: "ann" display: "Ann" }`},
		// editor is an inline field read only to follow the join: not
		// returned, as before.
		{`Notebook["ann"] { editor_info { display } }`,
			`owner: "ann" name: "groceries" editor_info { name: "bo" display: "Bo" }`},
		{`Notebook["ann"] { pages { author } }`,
			`owner: "ann" name: "groceries" pages { key: "ann" value { author { name: "ann" display: "Ann" } } }`},
	}
	for _, c := range cases {
		q, err := query.Compile(db.Catalog(), c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		res, err := querytest.Collect(t, db, q, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if len(res) != 1 {
			t.Fatalf("%s: got %d results, want 1", c.query, len(res))
		}
		wantEqual(t, c.query, joinMsg(t, db, "Notebook", c.want), res[0].Msg)
	}
}

// TestDeepJoinsDecode runs joins nested as deep as query.MaxDepthLimit
// allows, around a cycle of rows: the result, the deepest one the query
// limits let through, must still decode with protobuf-go's default
// recursion limit.
func TestDeepJoinsDecode(t *testing.T) {
	db := openJoinDB(t,
		"Node", `id: "a" next_id: "b"`,
		"Node", `id: "b" next_id: "c"`,
		"Node", `id: "c" next_id: "a"`,
	)
	d := query.MaxDepthLimit
	text := `Node["a"]` + strings.Repeat("{ next ", d) + strings.Repeat("}", d)
	q, err := query.Compile(db.Catalog(), text, query.WithLimits(query.Limits{MaxDepth: d}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := querytest.Collect(t, db, q, nil)
	if err != nil || len(res) != 1 {
		t.Fatalf("got %d results, %v; want 1", len(res), err)
	}
	raw, err := proto.Marshal(res[0].Msg)
	if err != nil {
		t.Fatal(err)
	}
	got := res[0].Msg.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(raw, got); err != nil {
		t.Fatalf("a result %d joins deep does not decode: %v", d, err)
	}
	// The innermost join target is row number d around the cycle.
	m := got.ProtoReflect()
	for range d {
		m = m.Get(m.Descriptor().Fields().ByName("next")).Message()
	}
	if id := m.Get(m.Descriptor().Fields().ByName("id")).String(); id != []string{"a", "b", "c"}[d%3] {
		t.Errorf("innermost row is %q, want %q", id, []string{"a", "b", "c"}[d%3])
	}
}
