// Command social runs a small social app on embedded Pebble through the
// typed API that protoc-gen-protoql generated from
// examples/proto/protoql/examples/social/v1/social.proto: users with
// sessions, threads with posts, an inbox read newest first, and secondary
// indexes (threads by author, a thread's posts by author). It prints
// every step and the keys each one touches.
//
//	go run ./examples/social            # a temporary database, removed at exit
//	go run ./examples/social -db ./data # keep the database in ./data
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func main() {
	dir := flag.String("db", "", "database directory (default: a temporary one, removed at exit)")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "protoql-social-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	if err := Run(context.Background(), os.Stdout, *dir); err != nil {
		log.Fatal(err)
	}
}

// app holds the typed tables.
type app struct {
	db      *runtime.DB
	users   socialpb.UserTable
	threads socialpb.ThreadTable
	inbox   socialpb.InboxItemTable
	w       io.Writer
}

// t0 is the example's clock: fixed, so that its output is reproducible.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func us(d time.Duration) int64 { return t0.Add(d).UnixMicro() }

// Run opens (or reopens) the database in dir and plays the example's story,
// writing what it does to w.
func Run(ctx context.Context, w io.Writer, dir string) (err error) {
	store, err := pebblekv.Open(dir)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil {
			err = cerr
		}
	}()
	db, err := runtime.Open(ctx, store, runtime.WithSchema(socialpb.File_protoql_examples_social_v1_social_proto))
	if err != nil {
		return err
	}
	a := &app{db: db, w: w}
	if a.users, err = socialpb.NewUserTable(db); err != nil {
		return err
	}
	if a.threads, err = socialpb.NewThreadTable(db); err != nil {
		return err
	}
	if a.inbox, err = socialpb.NewInboxItemTable(db); err != nil {
		return err
	}
	for _, step := range []func(context.Context) error{a.signUp, a.logIn, a.converse, a.readInbox, a.archive, a.profile, a.query, a.indexes} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) say(format string, args ...any) { fmt.Fprintf(a.w, format+"\n", args...) }

// signUp writes two whole users: each Put replaces the row's key range.
func (a *app) signUp(ctx context.Context) error {
	for _, u := range []*socialpb.User{
		{UserId: "alice", DisplayName: "Alice", Registered: timestamppb.New(t0), Emails: []string{"alice@example.com"},
			Contact:  &socialpb.User_Address{Address: &socialpb.Address{City: "Oslo", Country: "NO"}},
			Password: &socialpb.Password{Hash: []byte("argon2:alice"), ChangedUs: us(0)}},
		{UserId: "bob", DisplayName: "Bob", Registered: timestamppb.New(t0), Contact: &socialpb.User_Phone{Phone: "+47 555"}},
	} {
		if err := a.users.Put(ctx, u); err != nil {
			return err
		}
		a.say("put User[%q]: one batch over the row's key range", u.GetUserId())
	}
	return nil
}

// logIn adds a session (one map entry) and bumps breakout and counter keys:
// each is one small write, whatever the size of the user.
func (a *app) logIn(ctx context.Context) error {
	sessions := a.users.Row("alice").Sessions()
	if err := sessions.Put(ctx, "s1", &socialpb.Session{ExpiresUs: us(24 * time.Hour), Device: "phone"}); err != nil {
		return err
	}
	if err := sessions.Entry("s1").Attrs().Set(ctx, "ip", "192.0.2.1"); err != nil {
		return err
	}
	if err := a.users.Row("alice").LastSeenUs().Set(ctx, us(time.Minute)); err != nil {
		return err
	}
	if err := a.users.Row("alice").Counters().Set(ctx, "logins", 1); err != nil {
		return err
	}
	a.say("alice logged in: wrote User[\"alice\"].sessions[\"s1\"], its attrs[\"ip\"], last_seen_us and counters[\"logins\"] (four small writes, none reading the user)")
	return nil
}

// converse starts a thread and delivers it to bob's inbox in one
// transaction: the same typed API, bound to the transaction with In.
func (a *app) converse(ctx context.Context) error {
	posts := []struct {
		at   time.Duration
		who  string
		text string
	}{{2 * time.Minute, "alice", "lunch?"}, {3 * time.Minute, "bob", "sure, 12:30"}, {4 * time.Minute, "alice", "see you"}}
	err := a.db.Update(ctx, func(tx *runtime.Tx) error {
		threads, users, inbox := a.threads.In(tx), a.users.In(tx), a.inbox.In(tx)
		if err := threads.Put(ctx, &socialpb.Thread{ThreadId: "t1", Title: "Lunch", AuthorId: "alice"}); err != nil {
			return err
		}
		for _, p := range posts {
			if err := threads.Row("t1").Posts().Put(ctx, us(p.at), &socialpb.Post{AuthorId: p.who, Text: p.text}); err != nil {
				return err
			}
			to := "bob"
			if p.who == "bob" {
				to = "alice"
			}
			item := &socialpb.InboxItem{OwnerId: to, Folder: socialpb.Folder_FOLDER_INBOX, ReceivedUs: us(p.at), ThreadId: "t1", Snippet: p.text, Unread: true}
			if err := inbox.Put(ctx, item); err != nil {
				return err
			}
		}
		for _, u := range []string{"alice", "bob"} {
			if err := users.Row(u).Threads().Put(ctx, "t1", &socialpb.ThreadRef{LastReadUs: us(0)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.say("one transaction: Thread[\"t1\"] with %d posts, %d inbox items, and t1 in both users' threads", len(posts), len(posts))
	var texts []string
	for e, err := range a.threads.Row("t1").Posts().Scan(ctx, runtime.ScanOptions{}) {
		if err != nil {
			return err
		}
		texts = append(texts, e.Value.GetAuthorId()+": "+e.Value.GetText())
	}
	a.say("Thread[\"t1\"].posts, oldest first: %q", texts)
	return nil
}

// readInbox reads bob's inbox newest first, one page at a time, resuming
// with a cursor; then labels an item through two nested maps.
func (a *app) readInbox(ctx context.Context) error {
	r := socialpb.InboxItemKeys().OwnerId("bob").Folder(socialpb.Folder_FOLDER_INBOX)
	var after string
	for page := 1; ; page++ {
		var n int
		var last *socialpb.InboxItem
		for item, err := range a.inbox.Scan(ctx, r, runtime.ScanOptions{Limit: 1, After: after}) {
			if err != nil {
				return err
			}
			a.say("bob's inbox, page %d: %q at +%v (unread %v)", page, item.GetSnippet(), time.UnixMicro(item.GetReceivedUs()).Sub(t0), item.GetUnread())
			n, last = n+1, item
		}
		if n == 0 {
			break
		}
		var err error
		if after, err = a.inbox.Cursor(last); err != nil {
			return err
		}
	}
	newest := us(4 * time.Minute)
	if err := a.inbox.Row(socialpb.InboxItemKey{OwnerId: "bob", Folder: socialpb.Folder_FOLDER_INBOX, ReceivedUs: newest}).Unread().Set(ctx, false); err != nil {
		return err
	}
	labels := a.inbox.Row(socialpb.InboxItemKey{OwnerId: "bob", Folder: socialpb.Folder_FOLDER_INBOX, ReceivedUs: newest}).Labels()
	if err := labels.Entry("personal").ById().Put(ctx, 7, &socialpb.Label{Name: "food", Color: 0xff8800}); err != nil {
		return err
	}
	label, err := labels.Entry("personal").ById().Get(ctx, 7)
	if err != nil {
		return err
	}
	a.say("marked the newest read and labelled it: labels[\"personal\"].by_id[7] = %q", label.GetName())
	return nil
}

// archive moves bob's oldest item to the archive folder: its key changes,
// so it is a delete and a put, atomically.
func (a *app) archive(ctx context.Context) error {
	at := us(2 * time.Minute)
	err := a.db.Update(ctx, func(tx *runtime.Tx) error {
		inbox := a.inbox.In(tx)
		item, err := inbox.Get(ctx, socialpb.InboxItemKey{OwnerId: "bob", Folder: socialpb.Folder_FOLDER_INBOX, ReceivedUs: at})
		if err != nil {
			return err
		}
		if err := inbox.Delete(ctx, socialpb.InboxItemKey{OwnerId: "bob", Folder: socialpb.Folder_FOLDER_INBOX, ReceivedUs: at}); err != nil {
			return err
		}
		item.Folder = socialpb.Folder_FOLDER_ARCHIVE
		return inbox.Put(ctx, item)
	})
	if err != nil {
		return err
	}
	for _, folder := range []socialpb.Folder{socialpb.Folder_FOLDER_INBOX, socialpb.Folder_FOLDER_ARCHIVE} {
		n := 0
		for _, err := range a.inbox.Scan(ctx, socialpb.InboxItemKeys().OwnerId("bob").Folder(folder), runtime.ScanOptions{}) {
			if err != nil {
				return err
			}
			n++
		}
		a.say("bob's %s: %d item(s)", folder, n)
	}
	return nil
}

// profile edits inline fields (a read-modify-write of the row's own value)
// and reads the whole user back.
func (a *app) profile(ctx context.Context) error {
	if err := a.users.Row("alice").Phone().Set(ctx, "+47 123"); err != nil {
		return err
	}
	if err := a.users.Row("alice").Password().ChangedUs().Set(ctx, us(time.Hour)); err != nil {
		return err
	}
	u, err := a.users.Get(ctx, "alice")
	if err != nil {
		return err
	}
	a.say("User[\"alice\"]: %s, phone %s, %d session(s), %d thread(s), logins %d, last seen +%v",
		u.GetDisplayName(), u.GetPhone(), len(u.GetSessions()), len(u.GetThreads()), u.GetCounters()["logins"],
		time.UnixMicro(u.GetLastSeenUs()).Sub(t0))
	return nil
}

// query runs the query language through the typed tables: compile once,
// run with variables, read only what the selection names.
func (a *app) query(ctx context.Context) error {
	run := func(text string, vars map[string]any, show func(u *socialpb.User) string) error {
		q, err := a.users.Compile(text)
		if err != nil {
			return err
		}
		var out []string
		for row, err := range a.users.Query(ctx, q, vars) {
			if err != nil {
				return err
			}
			out = append(out, show(row.Msg))
		}
		a.say("query %s\n  -> %s", text, strings.Join(out, "; "))
		return nil
	}
	sessions := func(u *socialpb.User) string {
		var parts []string
		for _, id := range slices.Sorted(maps.Keys(u.GetSessions())) {
			parts = append(parts, fmt.Sprintf("%s expires +%v", id, time.UnixMicro(u.GetSessions()[id].GetExpiresUs()).Sub(t0)))
		}
		return fmt.Sprintf("%s %q sessions [%s]", u.GetUserId(), u.GetDisplayName(), strings.Join(parts, ", "))
	}
	if err := run(`User["alice"] { display_name, sessions { expires_us } }`, nil, sessions); err != nil {
		return err
	}
	if err := run(`User["a".."m"](first: 10) { user_id }`, nil, func(u *socialpb.User) string {
		return fmt.Sprintf("%s (display_name %q not read)", u.GetUserId(), u.GetDisplayName())
	}); err != nil {
		return err
	}
	if err := run(`User[$id] { sessions["s1".."s5"](reverse: true) { expires_us } }`, map[string]any{"id": "alice"}, sessions); err != nil {
		return err
	}
	return run(`User["alice"] { threads { thread { title, posts(first: 1) { text } } } }`, nil, func(u *socialpb.User) string {
		var parts []string
		for _, id := range slices.Sorted(maps.Keys(u.GetThreads())) {
			th := u.GetThreads()[id].GetThread()
			var first []string
			for _, p := range th.GetPosts() {
				first = append(first, p.GetText())
			}
			parts = append(parts, fmt.Sprintf("%s: %q, first post %q", id, th.GetTitle(), first))
		}
		return strings.Join(parts, ", ")
	})
}

// indexes reads through the two secondary indexes of social.proto: the
// table index Thread.by_author (index entries under the 0x01 prefix, then
// each thread's row) and the map-scoped index Thread.posts.by_author, whose
// entries live under the thread's key next to its posts. Every write above
// kept both in step.
func (a *app) indexes(ctx context.Context) error {
	var started []string
	for th, err := range a.threads.ByAuthor().Find(ctx, "alice", runtime.ScanOptions{}) {
		if err != nil {
			return err
		}
		started = append(started, th.GetThreadId()+" "+th.GetTitle())
	}
	a.say("threads.ByAuthor().Find(\"alice\") -> %q", started)
	var texts []string
	for e, err := range a.threads.Row("t1").PostsByAuthor().Find(ctx, "alice", runtime.ScanOptions{}) {
		if err != nil {
			return err
		}
		texts = append(texts, fmt.Sprintf("+%v %s", time.UnixMicro(e.Key).Sub(t0), e.Value.GetText()))
	}
	a.say("threads.Row(\"t1\").PostsByAuthor().Find(\"alice\") -> %q", texts)
	text := `Thread["t1"] { title, posts.by_author["bob"] { text } }`
	q, err := a.threads.Compile(text)
	if err != nil {
		return err
	}
	for row, err := range a.threads.Query(ctx, q, nil) {
		if err != nil {
			return err
		}
		var posts []string
		for _, p := range row.Msg.GetPosts() {
			posts = append(posts, p.GetText())
		}
		a.say("query %s\n  -> %q: %q", text, row.Msg.GetTitle(), posts)
	}
	q, err = a.threads.Compile(`Thread.by_author[$author] { title }`)
	if err != nil {
		return err
	}
	for row, err := range a.threads.Query(ctx, q, map[string]any{"author": "alice"}) {
		if err != nil {
			return err
		}
		a.say("query Thread.by_author[$author] { title } with $author = \"alice\"\n  -> %s %q", row.Msg.GetThreadId(), row.Msg.GetTitle())
	}
	return nil
}
