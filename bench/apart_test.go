package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/protoql/protoql/bench/apartpb"
	"github.com/protoql/protoql/examples/social/socialpb"
)

// TestRawApartLayout checks that the apart encoder writes byte for byte the
// pairs protoql's Put writes on the apart layout, so that bulk loading the
// apart store through it is loading protoql, and the raw scan of it does
// protoql's key operations.
func TestRawApartLayout(t *testing.T) {
	ctx := context.Background()
	e := openTestEnv(t)
	for _, u := range []*socialpb.User{
		NewUser(UserID(1), 1, SessionsPerUser),
		NewUser(UserID(2), 2, 0),
		{UserId: "bare"},
		{UserId: "emails", Emails: []string{"a@example.com"}, LastSeenUs: -5, Sessions: map[string]*socialpb.Session{"": {}, "a\x00b": {ExpiresUs: 1}}},
	} {
		if err := e.ProtoqlApart.Insert(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	got := dump(t, e.apartKV.DB(), []byte{0x01}, nil)
	var want []pair
	for _, u := range []*socialpb.User{
		NewUser(UserID(1), 1, SessionsPerUser),
		NewUser(UserID(2), 2, 0),
		{UserId: "bare"},
		{UserId: "emails", Emails: []string{"a@example.com"}, LastSeenUs: -5, Sessions: map[string]*socialpb.Session{"": {}, "a\x00b": {ExpiresUs: 1}}},
	} {
		if err := encodeUserApart(u, func(k, v []byte) error { want = append(want, pair{string(k), string(v)}); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(want, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	if !slices.Equal(got, want) {
		t.Errorf("protoql wrote\n%q\nthe apart encoder writes\n%q", got, want)
	}
	// No session is left in the users' range.
	for _, p := range dump(t, e.apartKV.DB(), tablePrefix, tableEnd) {
		if strings.Contains(p.k, string(sessionsTag)) {
			t.Errorf("a session key %q in the users' range", p.k)
		}
	}
}

// TestScanApartAgrees checks that the apart columns scan the same users as
// the scan workload.
func TestScanApartAgrees(t *testing.T) {
	ctx := context.Background()
	e := loadTestEnv(t)
	var want []string
	if err := e.Raw.ScanNames(ctx, func(id, name string) { want = append(want, id+"="+name) }); err != nil {
		t.Fatal(err)
	}
	if len(want) != testUsers {
		t.Fatalf("raw scan: %d users, want %d", len(want), testUsers)
	}
	for _, c := range e.Columns() {
		if c.Apart == nil {
			continue
		}
		var sc Scanner = c.Apart
		if c.Variant != "" {
			sc = reuseScanner{c.Apart.(*ProtoqlApart)}
		}
		var got []string
		if err := sc.ScanNames(ctx, func(id, name string) { got = append(got, id+"="+name) }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s on the apart layout scanned %d users, want the %d of the scan workload", c.Name, len(got), len(want))
		}
		if op := scanApartOp(c, testUsers); op == nil || op(ctx, 0) != nil {
			t.Errorf("%s: scan-apart op missing or failing", c.Name)
		}
	}
}

// TestRawPutApart checks that raw's PutApart leaves the apart layout's
// store as protoql's Put does, replacing users whose sessions are fewer,
// as many or more than the range delete's point-delete limit (one without
// its breakout field, so that the row's range holds a key less), and adding
// a new one: both stores then hold exactly the pairs of the users' final
// versions (the replaced users' sessions gone).
func TestRawPutApart(t *testing.T) {
	ctx := context.Background()
	many := rowDeleteKeys + 6
	old := []*socialpb.User{NewUser(UserID(0), 0, SessionsPerUser), NewUser(UserID(1), 1, SessionsPerUser), NewUser(UserID(2), 2, many), NewUser(UserID(3), 3, 2)}
	put := []*socialpb.User{NewUser(UserID(1), 101, 3), NewUser(UserID(2), 102, 1), NewUser(UserID(3), 103, many), NewUser(UserID(9), 109, SessionsPerUser)}
	put[1].LastSeenUs = 0 // no breakout key: the old one must go with the row's range
	final := []*socialpb.User{old[0], put[0], put[1], put[2], put[3]}
	var want []pair
	for _, u := range final {
		if err := encodeUserApart(u, func(k, v []byte) error { want = append(want, pair{string(k), string(v)}); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(want, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	for _, col := range []string{"protoql", "raw"} {
		e := openTestEnv(t)
		if err := e.loadApart(len(old), func(i int) *socialpb.User { return old[i] }); err != nil {
			t.Fatal(err)
		}
		for _, u := range put {
			var err error
			if col == "raw" {
				err = e.RawApart.PutApart(ctx, u)
			} else {
				var au *apartpb.User
				if au, err = apartUser(u); err == nil {
					err = e.ProtoqlApart.Put(ctx, au)
				}
			}
			if err != nil {
				t.Fatalf("%s: put %s: %v", col, u.UserId, err)
			}
		}
		if got := dump(t, e.apartKV.DB(), []byte{0x01}, nil); !slices.Equal(got, want) {
			t.Errorf("%s's puts left\n%q\nwant the final users' pairs\n%q", col, got, want)
		}
	}
}

// BenchmarkPutApart replaces a user with the apart layout's Put, whose row
// has its sessions stored apart, so the Put deletes two ranges that hold
// keys (the row's and the sessions'), which no benchreport workload does
// (the insert workload's rows are new, the Indexes section's rows have
// nothing under the row's key, and the growth curve's Put replaces one map
// entry): BenchmarkPutApart/<column>, protoql's
// generated Put against raw Pebble's same key operations (Raw.PutApart);
// BenchmarkPutApart/pairs runs the two interleaved, as runPairs does
// (-benchtime 100x for 100 pairs of growthPairStretch operations each).
// Each operation replaces a random user of -bench.users with SessionsPerUser
// sessions by one of 16 prepared users of as many sessions, given the
// user's id (one allocation, in both columns). The store holds only the
// apart layout's users; every column draws its own stretch of operations,
// as runOp's.
func BenchmarkPutApart(b *testing.B) {
	users := *benchUsers
	e := sharedEnv(b, fmt.Sprintf("apart-put-%d", users), func(e *Env) error {
		if err := e.loadApart(users, func(i int) *socialpb.User { return NewUser(UserID(i), i, SessionsPerUser) }); err != nil {
			return err
		}
		return e.Settle()
	})
	pool := make([]*socialpb.User, 16)
	apool := make([]*apartpb.User, len(pool))
	for k := range pool {
		pool[k] = NewUser("", 1_000_000_000+k, SessionsPerUser)
		var err error
		if apool[k], err = apartUser(pool[k]); err != nil {
			b.Fatal(err)
		}
	}
	id := func(i int) string { return UserID(int(mix(i) % uint64(users))) }
	ops := [2]Op{
		func(ctx context.Context, i int) error {
			u := apool[i%len(apool)]
			u.UserId = id(i)
			return e.ProtoqlApart.Put(ctx, u)
		},
		func(ctx context.Context, i int) error {
			u := pool[i%len(pool)]
			u.UserId = id(i)
			return e.RawApart.PutApart(ctx, u)
		},
	}
	b.Run("pairs", func(b *testing.B) { runPairsOn(b, e.apartKV, ops, pairNames) })
	for j, name := range pairNames {
		c := struct {
			name string
			op   Op
		}{name, ops[j]}
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			first, ok := benchOps[b.Name()]
			if !ok {
				first = columnBase(b.Name())
			}
			st := e.apartKV.Metrics()
			w0, m0, cpu0 := st.WAL.BytesWritten, st.BlockCache.Misses, cpuTime()
			n := 0
			for b.Loop() {
				if err := c.op(ctx, first+n); err != nil {
					b.Fatal(err)
				}
				n++
			}
			benchOps[b.Name()] = first + n
			st = e.apartKV.Metrics()
			per := float64(max(n, 1))
			b.ReportMetric(float64(cpuTime()-cpu0)/per, "cpu-ns/op")
			b.ReportMetric(float64(st.WAL.BytesWritten-w0)/per, "written-B/op")
			b.ReportMetric(float64(st.BlockCache.Misses-m0)/per, "blk-miss/op")
		})
	}
}
