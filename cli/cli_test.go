package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/protoql/protoql/cli"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

// socialDB returns a Pebble directory with a few rows of the social
// example's schema.
func socialDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	store, err := pebblekv.Open(dir, pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fill(t, store)
	return dir
}

func fill(t *testing.T, store kv.Store) {
	t.Helper()
	ctx := context.Background()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(socialpb.File_protoql_examples_social_v1_social_proto))
	if err != nil {
		t.Fatal(err)
	}
	rows := []proto.Message{
		&socialpb.User{UserId: "alice", DisplayName: "Alice", Registered: timestamppb.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
			Sessions: map[string]*socialpb.Session{"s1": {ExpiresUs: 100, Device: "phone"}, "s2": {ExpiresUs: 200}},
			Threads:  map[string]*socialpb.ThreadRef{"t1": {LastReadUs: 5}},
			Counters: map[string]int64{"logins": 3}},
		&socialpb.User{UserId: "bob", DisplayName: "Bob"},
		&socialpb.Thread{ThreadId: "t1", Title: "Lunch", AuthorId: "alice", Posts: map[int64]*socialpb.Post{7: {AuthorId: "bob", Text: "hi"}}},
		&socialpb.InboxItem{OwnerId: "bob", Folder: socialpb.Folder_FOLDER_INBOX, ReceivedUs: 9, Snippet: "hi", Unread: true},
	}
	for _, m := range rows {
		tbl, err := db.Table(string(m.ProtoReflect().Descriptor().FullName()))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := tbl.RowOf(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Put(ctx, ref, m); err != nil {
			t.Fatal(err)
		}
	}
}

// protoql runs the CLI in-process with stdin in.
func protoql(t *testing.T, in string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(context.Background(), args, cli.IO{In: strings.NewReader(in), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func TestQuery(t *testing.T) {
	t.Parallel()
	db := socialDB(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		out    string // exact stdout, when set
		outHas []string
		errHas []string
	}{
		{name: "text", args: []string{"query", "--db", db, `User["alice"] { sessions["s2"..] { expires_us } }`},
			out: `User{user_id: "alice", sessions: {"s2": {expires_us: 200}}}` + "\n"},
		{name: "json", args: []string{"query", "--db", db, "--format", "json", `User["a".."c"] { display_name }`},
			out: `{"user_id":"alice","display_name":"Alice"}` + "\n" + `{"user_id":"bob","display_name":"Bob"}` + "\n"},
		{name: "string var", args: []string{"query", "--db", db, "--var", "id=bob", `User[$id] { display_name }`},
			out: `User{user_id: "bob", display_name: "Bob"}` + "\n"},
		{name: "enum and int vars", args: []string{"query", "--db", db, "--var", "f=FOLDER_INBOX", "--var", "$at=9", `InboxItem["bob", $f, $at] { snippet }`},
			out: `InboxItem{owner_id: "bob", folder: FOLDER_INBOX, received_us: 9, snippet: "hi"}` + "\n"},
		{name: "enum number and first", args: []string{"query", "--db", db, "--var", "f=1", "--var", "n=1", `InboxItem["bob", $f](first: $n) { unread }`},
			out: `InboxItem{owner_id: "bob", folder: FOLDER_INBOX, received_us: 9, unread: true}` + "\n"},
		{name: "map key var", args: []string{"query", "--db", db, "--var", "p=7", `Thread["t1"] { posts[$p] { text } }`},
			out: `Thread{thread_id: "t1", posts: {7: {text: "hi"}}}` + "\n"},
		{name: "join", args: []string{"query", "--db", db, `User["alice"] { threads { thread { title } } }`},
			out: `User{user_id: "alice", threads: {"t1": {thread: {thread_id: "t1", title: "Lunch"}}}}` + "\n"},
		{name: "caret", args: []string{"query", "--db", db, "User[\"alice\"] {\n  display_name\n  nope\n}"}, code: 1,
			errHas: []string{`protoql: query: 3:3: unknown field "nope"`, "\n    nope\n    ^\n"}},
		{name: "var of the wrong type", args: []string{"query", "--db", db, "--var", "at=soon", `InboxItem["bob", 1, $at]`}, code: 2,
			errHas: []string{`protoql: query: 1:21: $at = "soon": not an integer`, "                 ^"}},
		{name: "unused var", args: []string{"query", "--db", db, "--var", "x=1", `User["bob"]`}, code: 2, errHas: []string{"protoql: query: $x is given"}},
		{name: "table", args: []string{"query", "--db", db, "--format", "table", `User { display_name, counters }`},
			out: " user_id | display_name | counters\n" +
				"---------+--------------+--------------\n" +
				" alice   | Alice        | {\"logins\": 3}\n" +
				" bob     | Bob          |\n"},
		{name: "csv", args: []string{"query", "--db", db, "--format", "csv", `User { display_name, emails }`},
			out: "user_id,display_name,emails\nalice,Alice,\nbob,Bob,\n"},
		{name: "expanded", args: []string{"query", "--db", db, "--format", "expanded", `InboxItem`},
			out: "-[ RECORD 1 ]---\nowner_id    | bob\nfolder      | FOLDER_INBOX\nreceived_us | 9\nthread_id   |\nsnippet     | hi\nunread      | true\nlabels      |\n"},
		{name: "first and after", args: []string{"query", "--db", db, `User(first: 1) { display_name }`},
			outHas: []string{`User{user_id: "alice", display_name: "Alice"}` + "\n(more: --after "}},
		{name: "after given twice", args: []string{"query", "--db", db, "--after", "", `User(after: "") { display_name }`}, code: 2},
		{name: "map cursor", args: []string{"query", "--db", db, `User["alice"] { sessions(first: 1) { device } }`},
			outHas: []string{`User{user_id: "alice", sessions: {"s1": {device: "phone"}}}` + "\n  (more in sessions: after: \""}},
		{name: "bad var syntax", args: []string{"query", "--db", db, "--var", "x", `User`}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { // not parallel: one process may open the Pebble directory at a time
			out, errs, code := protoql(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if tt.out != "" && out != tt.out {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.out)
			}
			for _, want := range tt.outHas {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tt.errHas {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errs)
				}
			}
		})
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	db := socialDB(t)
	tests := []struct {
		args []string
		has  []string
	}{
		{[]string{"describe-keys", "--db", db}, []string{"table protoql.examples.social.v1.User (id 1)", "1 / 1:string / 6:string", "User[user_id].sessions[string]"}},
		{[]string{"explain", "--db", db, "--var", "id=alice", `User[$id] { display_name }`}, []string{`get User[user_id=$id]`}},
		{[]string{"schema", "--db", db}, []string{"package protoql.examples.social.v1;", `int64 last_seen_us = 4 [(protoql.v1.field) = {breakout: true}];`, "enum Folder {"}},
		{[]string{"schema", "--db", db, "--format", "json"}, []string{`"name": "protoql/examples/social/v1/social.proto"`}},
		{[]string{"dump", "--db", db, "User[\"alice\"]"}, []string{
			`1 / 1:"alice" / 6:"s1"`, `User["alice"].sessions["s1"]`, `map entry  {expires_us: 100, device: "phone"}`,
			`User["alice"].counters["logins"]  map entry  3`, `=> User{`}},
		{[]string{"dump", "--db", db, `3 / 1:"bob"`}, []string{`InboxItem["bob", FOLDER_INBOX, 9].unread`, "breakout", "true"}},
		{[]string{"dump", "--db", db, "0x20"}, []string{`Thread["t1"].posts[7]`}},
		{[]string{"dump", "--db", db, "--meta"}, []string{"metadata", `"schema"`}},
	}
	for _, tt := range tests {
		out, errs, code := protoql(t, "", tt.args...)
		if code != 0 {
			t.Errorf("%q: exit %d\n%s", tt.args, code, errs)
			continue
		}
		for _, want := range tt.has {
			if !strings.Contains(out, want) {
				t.Errorf("%q: output lacks %q:\n%s", tt.args, want, out)
			}
		}
	}
	// The dump without --meta leaves the metadata out.
	out, _, _ := protoql(t, "", "dump", "--db", db)
	if strings.Contains(out, "metadata") || !strings.Contains(out, `Thread["t1"]`) {
		t.Errorf("dump:\n%s", out)
	}
}

// TestREPLScript feeds the REPL a script, as from a pipe.
func TestREPLScript(t *testing.T) {
	t.Parallel()
	db := socialDB(t)
	script := strings.Join([]string{
		".tables",
		`User["alice"] {`,
		`  display_name`,
		`  # a comment with a brace {`,
		`  sessions["s1"] { device }`,
		`}`,
		`.var id=bob`,
		`User[$id] { display_name }`,
		`.explain User[$id]`,
		`.explain User[$other]`,
		`.put Thread {"thread_id": "t2", "title": "New",`,
		`  "posts": {"1": {"text": "first"}}}`,
		`Thread["t2"] { posts { text } }`,
		`.delete Thread["t2"]`,
		`.delete Thread["t2"]`,
		`Thread["t2"]`,
		`.format json`,
		`User["bob"] { display_name }`,
		`.delete User["a".."b"]`,
		`.describe Nope`,
		`.nope`,
		`.quit`,
		`User["never run"]`,
	}, "\n")
	out, errs, code := protoql(t, script, "repl", "--db", db, "--history", "")
	if code != 1 {
		t.Errorf("exit %d, want 1 (statements failed)", code)
	}
	for _, want := range []string{
		"User[user_id]                             id 1  protoql.examples.social.v1.User\n" +
			"Thread[thread_id]                         id 2  protoql.examples.social.v1.Thread\n",
		`User{user_id: "alice", display_name: "Alice", sessions: {"s1": {device: "phone"}}}`,
		`User{user_id: "bob", display_name: "Bob"}`,
		"get User[user_id=$id]\n  key    10 14626f620000\n",
		"get User[user_id=$other]",
		`Thread{thread_id: "t2", posts: {1: {text: "first"}}}`,
		"(no rows)",
		"{\n  \"user_id\": \"bob\",\n  \"display_name\": \"Bob\"\n}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"error: Thread[\"t2\"]: not found\n",
		"error: schema: unknown table \"Nope\" (tables: User, Thread, InboxItem)\n",
		"error: unknown command .nope",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(out+errs, "never run") {
		t.Errorf("statement after .quit ran")
	}
}

func TestRegisterEngine(t *testing.T) {
	t.Parallel()
	store := memkv.New()
	fill(t, store)
	var opened string
	cli.RegisterEngine("testengine", func(_ context.Context, url string) (kv.Store, error) {
		opened = url
		return store, nil
	})
	out, errs, code := protoql(t, "", "query", "--db", "testengine://somewhere", `User["bob"] { display_name }`)
	if code != 0 || out != `User{user_id: "bob", display_name: "Bob"}`+"\n" || opened != "testengine://somewhere" {
		t.Errorf("exit %d, out %q, err %q, opened %q", code, out, errs, opened)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("registering a scheme twice did not panic")
		}
	}()
	cli.RegisterEngine("testengine", nil)
}

func TestNoSchema(t *testing.T) {
	t.Parallel()
	_, errs, code := protoql(t, "", "describe-keys", "--db", "mem:")
	if code != 1 || !strings.Contains(errs, "the database stores no schema") {
		t.Errorf("exit %d, %q", code, errs)
	}
}

// TestServeNegativeLimit: a negative limit is a usage mistake, not a
// silent "unlimited".
func TestServeNegativeLimit(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--max-rows=-1", "--max-keys=-1", "--max-bytes=-1", "--timeout=-1s", "--max-message-size=-1", "--max-query-bytes=-1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var out, errb bytes.Buffer
		code := cli.Main(ctx, []string{"serve", "--db", "mem:", "--listen", "127.0.0.1:0", flag}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
		cancel()
		if code != cli.ExitUsage || !strings.Contains(errb.String(), strings.Split(flag, "=")[0]) {
			t.Errorf("serve %s: exit %d, %q; want exit 2 naming the flag", flag, code, errb.String())
		}
	}
}

// TestServeSecureDefaults: serve refuses, as a usage mistake and before
// opening the database, to listen beyond loopback without a token and TLS,
// and to serve the KVService without a token of its own, unless told
// --insecure.
func TestServeSecureDefaults(t *testing.T) {
	t.Parallel()
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "--insecure"},
		{[]string{"--listen", ":0", "--token-file", tok}, "TLS"},
		{[]string{"--listen", "127.0.0.1:0", "--kv"}, "--kv-token-file"},
		{[]string{"--listen", "127.0.0.1:0", "--kv-token-file", tok}, "--kv"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, errb bytes.Buffer
		code := cli.Main(ctx, append([]string{"serve", "--db", dir}, c.args...), cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
		cancel()
		if code != cli.ExitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("serve %v: exit %d, %q; want exit 2 mentioning %s", c.args, code, errb.String(), c.want)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a refused serve created the database")
	}
}
