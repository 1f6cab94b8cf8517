package main

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// Example runs the whole story on a fresh database.
func Example() {
	dir, err := os.MkdirTemp("", "protoql-social-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if err := Run(context.Background(), os.Stdout, dir); err != nil {
		panic(err)
	}
	// Output:
	// put User["alice"]: one batch over the row's key range
	// put User["bob"]: one batch over the row's key range
	// alice logged in: wrote User["alice"].sessions["s1"], its attrs["ip"], last_seen_us and counters["logins"] (four small writes, none reading the user)
	// one transaction: Thread["t1"] with 3 posts, 3 inbox items, and t1 in both users' threads
	// Thread["t1"].posts, oldest first: ["alice: lunch?" "bob: sure, 12:30" "alice: see you"]
	// bob's inbox, page 1: "see you" at +4m0s (unread true)
	// bob's inbox, page 2: "lunch?" at +2m0s (unread true)
	// marked the newest read and labelled it: labels["personal"].by_id[7] = "food"
	// bob's FOLDER_INBOX: 1 item(s)
	// bob's FOLDER_ARCHIVE: 1 item(s)
	// User["alice"]: Alice, phone +47 123, 1 session(s), 1 thread(s), logins 1, last seen +1m0s
	// query User["alice"] { display_name, sessions { expires_us } }
	//   -> alice "Alice" sessions [s1 expires +24h0m0s]
	// query User["a".."m"](first: 10) { user_id }
	//   -> alice (display_name "" not read); bob (display_name "" not read)
	// query User[$id] { sessions["s1".."s5"](reverse: true) { expires_us } }
	//   -> alice "" sessions [s1 expires +24h0m0s]
	// query User["alice"] { threads { thread { title, posts(first: 1) { text } } } }
	//   -> t1: "Lunch", first post ["lunch?"]
	// threads.ByAuthor().Find("alice") -> ["t1 Lunch"]
	// threads.Row("t1").PostsByAuthor().Find("alice") -> ["+2m0s lunch?" "+4m0s see you"]
	// query Thread["t1"] { title, posts.by_author["bob"] { text } }
	//   -> "Lunch": ["sure, 12:30"]
	// query Thread.by_author[$author] { title } with $author = "alice"
	//   -> t1 "Lunch"
}

// TestReopen runs the story twice on one directory: the second Open checks
// the schema stored by the first.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		var out bytes.Buffer
		if err := Run(context.Background(), &out, dir); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
		}
	}
}
