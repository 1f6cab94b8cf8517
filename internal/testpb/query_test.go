package testpb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// TestTypedQuery runs the query language through the generated table: the
// typed Compile refuses queries on other tables, and Query yields *User
// with only the selected fields, inside and outside a transaction.
func TestTypedQuery(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	users := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	for _, id := range []string{"ann", "bob", "cy"} {
		u := &testpb.User{UserId: id, Registered: 7, Sessions: map[string]*testpb.Session{
			"s1": {ExpiresUs: 1, Device: "d"}, "s2": {ExpiresUs: 2, Device: "d"},
		}}
		if err := users.Put(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	q := must[*query.Query](t)(users.Compile(`User[$id] { sessions(first: 1) { expires_us } }`))
	var got []*testpb.User
	for row, err := range users.Query(ctx, q, map[string]any{"id": "bob"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, row.Msg)
		if row.Cursor() == "" || row.MapCursors["sessions"] == "" {
			t.Errorf("row %q: missing cursor (%q) or map cursor (%v)", row.Msg.UserId, row.Cursor(), row.MapCursors)
		}
	}
	want := []*testpb.User{{UserId: "bob", Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 1}}}}
	same(t, "typed query result", want, got)

	if _, err := users.Compile(`Thread["x"] { title }`); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Compile of a query on another table: got %v, want ErrInvalid", err)
	}
	if _, err := users.Compile(`User["x"] { nope }`); err == nil || !strings.Contains(err.Error(), "1:13") {
		t.Errorf("Compile of a bad query: got %v, want a positioned error", err)
	}

	all := must[*query.Query](t)(users.Compile(`User { user_id }`))
	err := db.Update(ctx, func(tx *runtime.Tx) error {
		if err := users.In(tx).Delete(ctx, "ann"); err != nil {
			return err
		}
		var ids []string
		for row, err := range users.In(tx).Query(ctx, all, nil) {
			if err != nil {
				return err
			}
			ids = append(ids, row.Msg.UserId)
		}
		if strings.Join(ids, ",") != "bob,cy" {
			t.Errorf("query inside Update sees %v, want its own delete applied (bob,cy)", ids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
