package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestUpdateAcrossTables(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t, open())
			users, threads := table(t, db, "User"), table(t, db, "Thread")
			u := &testpb.User{UserId: "u", Threads: map[string]*testpb.ThreadRef{"t": {LastReadUs: 1}}}
			th := &testpb.Thread{ThreadId: "t", Title: "x"}
			uref := must[runtime.Ref](t)(users.RowOf(u))
			tref := must[runtime.Ref](t)(threads.RowOf(th))

			boom := errors.New("boom")
			err := db.Update(ctx, func(tx *runtime.Tx) error {
				check(t, tx.Put(ctx, uref, u))
				check(t, tx.Put(ctx, tref, th))
				// Reads inside the transaction see its own writes.
				got := &testpb.Thread{}
				check(t, tx.Get(ctx, tref, got))
				wantEqual(t, "read own write", th, got)
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Update returned %v, want the function's error", err)
			}
			if err := db.Get(ctx, uref, &testpb.User{}); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("a failed Update left a row behind: %v", err)
			}

			check(t, db.Update(ctx, func(tx *runtime.Tx) error {
				if err := tx.Put(ctx, uref, u); err != nil {
					return err
				}
				if err := tx.Put(ctx, tref, th); err != nil {
					return err
				}
				return tx.UpdateInline(ctx, tref, func(m protoreflect.Message) error {
					m.Set(m.Descriptor().Fields().ByName("body"), protoreflect.ValueOfString("b"))
					return nil
				})
			}))
			th.Body = "b"

			// A View is one snapshot: writes after it starts are invisible.
			check(t, db.View(ctx, func(tx *runtime.Tx) error {
				check(t, db.Delete(ctx, uref))
				got := &testpb.User{}
				check(t, tx.Get(ctx, uref, got))
				wantEqual(t, "snapshot read after a concurrent delete", u, got)
				gotT := &testpb.Thread{}
				check(t, tx.Get(ctx, tref, gotT))
				wantEqual(t, "second table in the same snapshot", th, gotT)
				return nil
			}))
			if err := db.Get(ctx, uref, &testpb.User{}); !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("delete outside the View did not take effect: %v", err)
			}
		})
	}
}
