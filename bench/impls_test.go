package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"
)

const testUsers = 300

func openTestEnv(t *testing.T) *Env {
	t.Helper()
	e, err := OpenEnv(context.Background(), t.TempDir(), EnvOptions{CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func loadTestEnv(t *testing.T) *Env {
	t.Helper()
	e := openTestEnv(t)
	if err := e.Load(context.Background(), testUsers, func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) }); err != nil {
		t.Fatal(err)
	}
	return e
}

type pair struct{ k, v string }

func dump(t *testing.T, db *pebble.DB, lo, hi []byte) []pair {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []pair
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pair{string(it.Key()), string(v)})
	}
	return out
}

// TestRawLayout checks that the raw encoder writes byte for byte the pairs
// protoql's Put writes, so that the raw implementation does the same key
// operations and bulk loading through it is loading protoql.
func TestRawLayout(t *testing.T) {
	ctx := context.Background()
	e := openTestEnv(t)
	for _, u := range []*socialpb.User{
		NewUser(UserID(1), 1, SessionsPerUser),
		NewUser(UserID(2), 2, 0),
		{UserId: "bare"},
		{UserId: "emails", Emails: []string{"a@example.com", "b@example.com"}, LastSeenUs: -5, Sessions: map[string]*socialpb.Session{"": {}, "a\x00b": {ExpiresUs: 1}}},
	} {
		if err := e.Protoql.Insert(ctx, u); err != nil {
			t.Fatal(err)
		}
		row := rowKey(nil, u.UserId)
		got := dump(t, e.kv.DB(), row, tuple.PrefixEnd(row))
		var want []pair
		if err := encodeUser(u, func(k, v []byte) error { want = append(want, pair{string(k), string(v)}); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(want, func(a, b pair) int { return strings.Compare(a.k, b.k) })
		if !slices.Equal(got, want) {
			t.Errorf("user %q: protoql wrote\n%q\nthe raw encoder writes\n%q", u.UserId, got, want)
		}
	}
}

// TestImplsAgree checks every implementation against the same model on
// every workload: what it reads, and what it reads back after each write.
func TestImplsAgree(t *testing.T) {
	ctx := context.Background()
	e := loadTestEnv(t)
	diff := func(what string, got, want proto.Message) {
		t.Helper()
		if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
			t.Errorf("%s (-want +got):\n%s", what, d)
		}
	}
	projected := func(u *socialpb.User) *socialpb.User {
		out := &socialpb.User{UserId: u.UserId, Sessions: map[string]*socialpb.Session{}}
		keys := slices.Sorted(mapsKeys(u.Sessions))
		for _, k := range keys[:min(10, len(keys))] {
			out.Sessions[k] = &socialpb.Session{ExpiresUs: u.Sessions[k].ExpiresUs}
		}
		return out
	}
	var wantNames []string
	for i := range testUsers {
		wantNames = append(wantNames, UserID(i)+"="+NewUser(UserID(i), i, 0).DisplayName)
	}
	for k, c := range e.Columns() {
		t.Run(c.Name, func(t *testing.T) {
			im := c.Impl
			get, query, scan := im.Get, im.QuerySessions, im.ScanNames
			if c.Variant != "" {
				get, query, scan = im.(*Protoql).GetByQuery, im.(*Protoql).QuerySessionsTyped, im.(*Protoql).ScanNamesReuse
			}
			want := NewUser(UserID(5), 5, SessionsPerUser)
			if got, err := get(ctx, UserID(5)); err != nil {
				t.Fatal(err)
			} else {
				diff("get", got, want)
			}
			if got, err := query(ctx, UserID(5)); err != nil {
				t.Fatal(err)
			} else {
				diff("query", got, projected(want))
			}
			if _, err := get(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
				t.Errorf("get of a missing user: got %v, want ErrNotFound", err)
			}
			if got, err := query(ctx, "nobody"); err != nil || got != nil {
				t.Errorf("query of a missing user: got %v, %v; want nil, nil", got, err)
			}
			var names []string
			// Other columns' inserts (zz-…) sort after the data set.
			if err := scan(ctx, func(id, name string) {
				if strings.HasPrefix(id, "user") {
					names = append(names, id+"="+name)
				}
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names, wantNames) {
				t.Errorf("scan: got %d users %q..., want %d", len(names), names[:min(3, len(names))], len(wantNames))
			}

			// Writes: each column its own user.
			i := 10 + k
			id := UserID(i)
			want = NewUser(id, i, SessionsPerUser)
			if err := im.SetSessionExpiry(ctx, id, SessionID(3), 42); err != nil {
				t.Fatal(err)
			}
			want.Sessions[SessionID(3)].ExpiresUs = 42
			if err := im.SetLastSeen(ctx, id, 99); err != nil {
				t.Fatal(err)
			}
			want.LastSeenUs = 99
			for _, other := range e.Impls() { // the raw and protoql implementations share a store
				if other == e.Raw && im == e.Protoql || other == e.Protoql && im == e.Raw || other == im {
					got, err := other.Get(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					diff("get after updates, through "+other.Name(), got, want)
				}
			}
			// Insert replaces.
			nu := NewUser("zz-"+c.Name, 77, SessionsPerUser)
			if err := im.Insert(ctx, nu); err != nil {
				t.Fatal(err)
			}
			small := NewUser(nu.UserId, 78, 2)
			if err := im.Insert(ctx, small); err != nil {
				t.Fatal(err)
			}
			got, err := im.Get(ctx, nu.UserId)
			if err != nil {
				t.Fatal(err)
			}
			diff("get after insert", got, small)
			// A user without sessions exists: the query returns it, with
			// its key only (the sessions' seek finds nothing in its range).
			bare := NewUser("zz-bare-"+c.Name, 79, 0)
			if err := im.Insert(ctx, bare); err != nil {
				t.Fatal(err)
			}
			if got, err := query(ctx, bare.UserId); err != nil {
				t.Fatal(err)
			} else {
				diff("query of a user without sessions", got, &socialpb.User{UserId: bare.UserId})
			}
			// A missing user whose id is a prefix of that user's, and one
			// that extends it, are still missing.
			for _, id := range []string{bare.UserId[:len(bare.UserId)-1], bare.UserId + "\x00"} {
				if got, err := query(ctx, id); err != nil || got != nil {
					t.Errorf("query of missing user %q: got %v, %v; want nil, nil", id, got, err)
				}
			}
		})
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestWorkloads runs every workload and growth operation once on every
// column (they check their own results).
func TestWorkloads(t *testing.T) {
	ctx := context.Background()
	e := loadTestEnv(t)
	if err := e.LoadGrowth(ctx, []int{10, 100}); err != nil {
		t.Fatal(err)
	}
	for _, w := range Workloads {
		for _, c := range e.Columns() {
			if op := w.Op(c, testUsers); op != nil {
				for i := range 3 {
					if err := op(ctx, i); err != nil {
						t.Errorf("%s on %s: %v", w.Key, c.Name, err)
					}
				}
			}
		}
	}
	for _, n := range []int{10, 100} {
		for _, c := range e.GrowthColumns() {
			if err := GrowthOp(c, n)(ctx, 1); err != nil {
				t.Errorf("growth %d on %s: %v", n, c.Name, err)
			}
		}
		want := NewUser(GrowthID(n), n, n)
		for _, im := range e.Impls() {
			got, err := im.Get(ctx, GrowthID(n))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Sessions) != len(want.Sessions) {
				t.Errorf("%s: growth user %d has %d sessions, want %d", im.Name(), n, len(got.Sessions), len(want.Sessions))
			}
		}
	}
}

// TestRun runs the driver on a tiny data set and checks its tables and
// plot.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	r, err := Run(context.Background(), Config{Dir: dir, Users: 200, Reps: 2, ScanApartReps: 3, OpTime: 2 * time.Millisecond, GrowthSizes: []int{10, 100}, WorkingSet: true, Conc: true, ConcRows: 32, Main: true, IndexRows: 100, CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{10, 100} {
		for _, c := range []string{"protoql", "protoql-put", "protoql-breakout", "raw", "raw-merge", "blob", "sqlite"} {
			if find(r.Growth[n], fmt.Sprintf("growth-%d", n), c) == nil {
				t.Errorf("growth %d: no result for %s", n, c)
			}
		}
		for _, c := range []string{"protoql", "protoql-put", "raw", "raw-merge"} {
			if find(r.WorkingSet[n], fmt.Sprintf("wset-%d", n), c) == nil {
				t.Errorf("growth at a fixed working set, %d: no result for %s", n, c)
			}
		}
	}
	// The apart scan runs its own count of repetitions, the colocated one
	// Reps (its ScanReps is 0).
	for key, want := range map[string]int{"scan": 2, "scan-apart": 3, "get": 2} {
		if res := find(r.Results, key, "raw"); res == nil || len(res.Samples) != want {
			t.Errorf("%s: result %+v, want %d samples", key, res, want)
		}
	}
	var buf bytes.Buffer
	r.WriteTables(&buf)
	out := buf.String()
	for _, want := range []string{"### Time per operation", "| `get` get a User whole (alt: the query User[$id]) |", "| get | protoql-alt |", "### Growth", "| 100 |", "protoql-put: update cost flat from 10 to 100 map entries", "### DESIGN.md §8 targets", "query compile", "### Hot entries", "| protoql-put |", "### Growth at a fixed working set: update one entry of one of W/n maps of n sessions\n\nW = 100 keys (the largest growth size)", "| 10 | 10 |", "| 100 ÷ 10 |  |", "### Concurrency", "| `inline-hot` increment registered of one row, every goroutine | sqlite |", "scaling g=16", "### Indexes: 100 rows per table", "| update-3 | sqlite |", "| idx-get | protoql-alt |", "; read cache 8 MiB per store;"} {
		// Prose is wrapped: a phrase may span lines.
		if !strings.Contains(out, want) && !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// The full-scan table has both scans, with Pebble's block misses
	// counted for the Pebble columns and not for SQLite.
	_, scans, _ := strings.Cut(out, "### Full scan of 200 users")
	scans, _, _ = strings.Cut(scans, "\n###")
	for _, want := range []string{"| block misses |", "| scan | raw |", "| scan-apart | protoql |", "| scan-apart | raw |", "| scan-apart | sqlite |"} {
		if !strings.Contains(scans, want) {
			t.Errorf("the full-scan table lacks %q:\n%s", want, scans)
		}
	}
	// Every scan row has its twelve cells: block misses (not SQLite's),
	// and the live heap the scan ran beside, which is never empty.
	rows := 0
	for _, line := range strings.Split(scans, "\n") {
		if !strings.HasPrefix(line, "| scan") {
			continue
		}
		rows++
		cells := strings.Split(line, " | ")
		if len(cells) != 12 {
			t.Errorf("full-scan row %q: %d cells, want 12", line, len(cells))
			continue
		}
		if sqlite := cells[1] == "sqlite"; (cells[6] == "—") != sqlite {
			t.Errorf("full-scan row %q: block misses %q", line, cells[6])
		}
		if cells[9] == "0 B" {
			t.Errorf("full-scan row %q: no live heap", line)
		}
	}
	if rows == 0 {
		t.Errorf("the full-scan table has no scan rows:\n%s", scans)
	}
	path := filepath.Join(dir, "growth.png")
	if err := r.WritePlot(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("plot: %v", err)
	}
}
