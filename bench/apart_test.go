package bench

import (
	"context"
	"slices"
	"strings"
	"testing"

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
