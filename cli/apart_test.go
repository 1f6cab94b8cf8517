package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

// TestInspectApart checks describe-keys and dump on a DB with fields stored
// apart: the apart keys show with their element and the symbolic path of
// the field, marked apart, and the row's reassembly includes them.
func TestInspectApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "db")
	store, err := pebblekv.Open(dir, pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	db, err := runtime.Open(ctx, store, runtime.WithSchema(apartpb.File_protoql_test_apart_v1_apart_proto))
	if err != nil {
		t.Fatal(err)
	}
	users, err := apartpb.NewApartUserTable(db)
	if err != nil {
		t.Fatal(err)
	}
	u := &apartpb.ApartUser{UserId: "alice", Registered: 7, Sessions: map[string]*testpb.Session{"s1": {Device: "phone"}}}
	if err := users.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		has  []string
	}{
		{[]string{"describe-keys", "--db", dir}, []string{"20:5u / 1:string / 5:string", "ApartUser[user_id].sessions[string]", "map entry apart"}},
		{[]string{"dump", "--db", dir}, []string{`20:5u / 1:"alice" / 5:"s1"`, `ApartUser["alice"].sessions["s1"]`, "map entry (apart)", `device: "phone"`, `=> ApartUser{`, `sessions: {"s1": {device: "phone"}}`}},
		{[]string{"key", "decode", "f901430514616c6963650000"}, []string{`20:5u / 1:"alice"`}},
	} {
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
}
