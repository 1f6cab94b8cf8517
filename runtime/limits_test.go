package runtime_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// bigSessions is the size of the large map of these tests: large enough
// that materialising it shows, small enough to run in seconds.
const bigSessions = 100_000

func bigSessionID(i int) string { return fmt.Sprintf("s%06d", i) }

// bigUser is a row with bigSessions small entries, each with pad bytes of
// device name.
func bigUser(id string, pad int) *testpb.User {
	u := &testpb.User{UserId: id, Registered: 7, LastSeenUs: 9, Sessions: make(map[string]*testpb.Session, bigSessions)}
	dev := string(make([]byte, pad))
	for i := range bigSessions {
		u.Sessions[bigSessionID(i)] = &testpb.Session{ExpiresUs: int64(i), Device: dev}
	}
	return u
}

// TestQueryLimitInsideRow reads rows around one with a 100k-entry map under
// limits far below the row's size: each call must end with a LimitError
// whose cursor resumes inside the row (the last result marked Partial),
// and resuming from cursor to cursor must return every entry exactly once,
// in both map directions, on a row scan and on an exact key.
func TestQueryLimitInsideRow(t *testing.T) {
	store := memkv.New()
	db := openDB(t, store)
	querytest.Put(t, db, &testpb.User{UserId: "a", Registered: 1}, bigUser("big", 0), &testpb.User{UserId: "c", Registered: 3, Sessions: map[string]*testpb.Session{"x": {ExpiresUs: 1}}})
	cases := []struct {
		text string
		rows []string // the rows expected, in order
	}{
		{`User(after: $after) { registered, last_seen_us, sessions { expires_us } }`, []string{"a", "big", "c"}},
		{`User(after: $after, reverse: true) { sessions(reverse: true) { expires_us } }`, []string{"c", "big", "a"}},
		{`User["big"](after: $after) { sessions["s000100"..] { expires_us } }`, []string{"big"}},
	}
	for _, lim := range []query.Limits{{MaxKeys: 30_000}, {MaxBytes: 500_000}} {
		for _, c := range cases {
			q := query.MustCompile(db.Catalog(), c.text)
			var got []runtime.Result
			seen := map[string]int{}
			after, calls := "", 0
			for {
				calls++
				if calls > 200 {
					t.Fatalf("%s under %+v: no end after %d calls", c.text, lim, calls)
				}
				page, err := querytest.Collect(t, db, q, map[string]any{"after": after}, runtime.WithLimits(lim))
				for _, r := range page {
					for id := range r.Msg.(*testpb.User).Sessions {
						seen[r.Msg.(*testpb.User).UserId+"/"+id]++
					}
				}
				got = querytest.JoinPartial(t, db, got, page)
				if err == nil {
					break
				}
				var le *runtime.LimitError
				if !errors.As(err, &le) {
					t.Fatalf("%s under %+v: call %d: %v", c.text, lim, calls, err)
				}
				if le.Cursor == "" || len(page) == 0 || le.Cursor != page[len(page)-1].Cursor() {
					t.Fatalf("%s under %+v: call %d: LimitError cursor %q after %d results, want the last result's", c.text, lim, calls, le.Cursor, len(page))
				}
				after = le.Cursor
			}
			if calls < 3 {
				t.Errorf("%s under %+v: %d calls; the limits should have cut the big row", c.text, lim, calls)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.Msg.(*testpb.User).UserId)
			}
			if fmt.Sprint(ids) != fmt.Sprint(c.rows) {
				t.Fatalf("%s under %+v: rows %v, want %v", c.text, lim, ids, c.rows)
			}
			lo := 0
			if c.rows[0] == "big" {
				lo = 100
			}
			for i := lo; i < bigSessions; i++ {
				if n := seen["big/"+bigSessionID(i)]; n != 1 {
					t.Fatalf("%s under %+v: session %s returned %d times, want once", c.text, lim, bigSessionID(i), n)
				}
			}
			if n := len(seen) - (bigSessions - lo); n != 0 && !(n == 1 && seen["c/x"] == 1) {
				t.Fatalf("%s under %+v: %d unexpected sessions", c.text, lim, n)
			}
			for _, r := range got {
				u := r.Msg.(*testpb.User)
				if u.UserId != "big" {
					continue
				}
				for id, s := range u.Sessions {
					if want := fmt.Sprintf("s%06d", s.ExpiresUs); id != want {
						t.Fatalf("%s: session %s holds expires_us %d", c.text, id, s.ExpiresUs)
					}
				}
				if c.rows[0] == "a" && (u.Registered != 7 || u.LastSeenUs != 9) {
					t.Errorf("%s: merged big row lost its own fields: registered %d last_seen_us %d", c.text, u.Registered, u.LastSeenUs)
				}
			}
		}
	}
}

// cancelAfter cancels a context once the iterators it hooks have landed
// on after keys, and counts the keys landed on.
type cancelAfter struct {
	after  int64
	cancel context.CancelFunc
	landed atomic.Int64
}

func (c *cancelAfter) hook(_ kv.IterOptions, it kv.Iterator) kv.Iterator {
	return &cancelIter{Iterator: it, c: c}
}

type cancelIter struct {
	kv.Iterator
	c *cancelAfter
}

func (it *cancelIter) land(ok bool) bool {
	if ok && it.c.landed.Add(1) == it.c.after {
		it.c.cancel()
	}
	return ok
}

func (it *cancelIter) First() bool          { return it.land(it.Iterator.First()) }
func (it *cancelIter) Next() bool           { return it.land(it.Iterator.Next()) }
func (it *cancelIter) SeekGE(k []byte) bool { return it.land(it.Iterator.SeekGE(k)) }
func (it *cancelIter) SeekLT(k []byte) bool { return it.land(it.Iterator.SeekLT(k)) }

// TestReadsStopOnCancel cancels the context of a read of a 100k-entry row
// after 1,000 keys (from inside the store, so no timing is involved): the
// query, the typed Get, Scan and ScanMap must stop at once with the
// context's error, not read the rest of the row.
func TestReadsStopOnCancel(t *testing.T) {
	base := memkv.New()
	querytest.Put(t, openDB(t, base), bigUser("big", 0))
	const after = 1000
	reads := map[string]func(ctx context.Context, db *runtime.DB) error{
		"Query": func(ctx context.Context, db *runtime.DB) error {
			q := query.MustCompile(db.Catalog(), `User["big"] { sessions { expires_us } }`)
			for _, err := range db.Query(ctx, q, nil) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"Get": func(ctx context.Context, db *runtime.DB) error {
			return db.Get(ctx, bigRow(t, db), &testpb.User{})
		},
		"Scan": func(ctx context.Context, db *runtime.DB) error {
			users, _ := db.Table("User")
			for _, err := range db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{}) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"ScanMap": func(ctx context.Context, db *runtime.DB) error {
			sessions, _ := bigRow(t, db).FieldByName("sessions")
			for _, err := range db.ScanMap(ctx, sessions, runtime.KeyRange{}, runtime.ScanOptions{}) {
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &cancelAfter{after: after, cancel: cancel}
			db := openDB(t, &kvtest.HookIters{Store: base, Hook: c.hook})
			c.landed.Store(0)
			err := read(ctx, db)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			// The read may finish the move that saw the cancellation.
			if n := c.landed.Load(); n > after+1 {
				t.Errorf("%d keys read; the read went on for %d keys after its context was cancelled", n, n-after)
			}
		})
	}
}

func bigRow(t testing.TB, db *runtime.DB) runtime.Ref {
	t.Helper()
	users, err := db.Table("User")
	check(t, err)
	ref, err := users.Row(protoreflect.ValueOfString("big"))
	check(t, err)
	return ref
}

// TestQueryMemoryBoundedByLimit reads a row of about 12 MB under a 256 KiB
// byte limit and requires the call to allocate within a small multiple of
// the limit (measured with TotalAlloc, which counts every allocation of
// the process), not in proportion to the row.
func TestQueryMemoryBoundedByLimit(t *testing.T) {
	db := openDB(t, memkv.New())
	querytest.Put(t, db, bigUser("big", 100))
	q := query.MustCompile(db.Catalog(), `User["big"] { sessions { expires_us, device } }`)
	const maxBytes = 256 << 10
	run := func(lim query.Limits) (alloc uint64, results int, err error) {
		var before, after goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&before)
		for r, e := range db.Query(context.Background(), q, nil, runtime.WithLimits(lim)) {
			if e != nil {
				err = e
				break
			}
			results += len(r.Msg.(*testpb.User).Sessions)
			r.Msg = nil
		}
		goruntime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, results, err
	}
	alloc, n, err := run(query.Limits{MaxBytes: maxBytes})
	if !errors.Is(err, runtime.ErrLimit) || n == 0 {
		t.Fatalf("under MaxBytes %d: %d sessions, %v; want some sessions and a LimitError", maxBytes, n, err)
	}
	if bound := uint64(16 * maxBytes); alloc > bound {
		t.Errorf("under MaxBytes %d the call allocated %d bytes, over %d", maxBytes, alloc, bound)
	}
	whole, _, err := run(query.Limits{})
	check(t, err)
	t.Logf("allocated %d bytes under MaxBytes %d (%d sessions); %d bytes for the whole row", alloc, maxBytes, n, whole)
}

// TestQueryRowChunks streams a 100k-entry row in pieces (WithRowChunk):
// every piece but the last is Partial and about the chunk size, the pieces
// hold every entry once, and the cursor of a piece resumes after it.
func TestQueryRowChunks(t *testing.T) {
	db := openDB(t, memkv.New())
	querytest.Put(t, db, &testpb.User{UserId: "a"}, bigUser("big", 0), &testpb.User{UserId: "c"})
	q := query.MustCompile(db.Catalog(), `User(after: $after) { registered, sessions(reverse: true) { expires_us } }`)
	const chunk = 64 << 10
	// Each entry is well over 10 bytes of key, so a piece holds fewer than
	// chunk/10 entries.
	const maxPerPiece = chunk / 10
	pieces, err := querytest.Collect(t, db, q, map[string]any{"after": ""}, runtime.WithRowChunk(chunk))
	check(t, err)
	seen := map[string]int{}
	var got []runtime.Result
	for i, r := range pieces {
		u := r.Msg.(*testpb.User)
		if n := len(u.Sessions); n > maxPerPiece {
			t.Fatalf("piece %d holds %d entries, over %d", i, n, maxPerPiece)
		}
		if r.Partial != (u.UserId == "big" && i < len(pieces)-2) {
			t.Fatalf("piece %d of %s: Partial %v", i, u.UserId, r.Partial)
		}
		for id := range u.Sessions {
			seen[id]++
		}
		got = querytest.JoinPartial(t, db, got, []runtime.Result{r})
	}
	if len(pieces) < bigSessions/maxPerPiece || len(got) != 3 {
		t.Fatalf("%d pieces making %d rows, want at least %d pieces and 3 rows", len(pieces), len(got), bigSessions/maxPerPiece)
	}
	for i := range bigSessions {
		if seen[bigSessionID(i)] != 1 {
			t.Fatalf("session %s came %d times, want once", bigSessionID(i), seen[bigSessionID(i)])
		}
	}
	// Resuming from the cursor of a piece in the middle returns the rest.
	mid := len(pieces) / 2
	rest, err := querytest.Collect(t, db, q, map[string]any{"after": pieces[mid].Cursor()}, runtime.WithRowChunk(chunk))
	check(t, err)
	n := 0
	for _, r := range rest {
		n += len(r.Msg.(*testpb.User).Sessions)
	}
	want := 0
	for _, r := range pieces[mid+1:] {
		want += len(r.Msg.(*testpb.User).Sessions)
	}
	if n != want || len(rest) != len(pieces)-mid-1 {
		t.Fatalf("resuming after piece %d: %d pieces with %d entries, want %d with %d", mid, len(rest), n, len(pieces)-mid-1, want)
	}
}
