package runtime

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestPutCallReleaseForgets checks that a released putCall, which goes
// back to the pool with its index delta, holds none of the call's values
// (the context, the Ref, the message, the delta's entries and table), only
// its method value and the delta's key and value buffers, emptied.
// (release pools c: the test reads it after that, as
// TestIndexCallReleaseForgets does.)
func TestPutCallReleaseForgets(t *testing.T) {
	c := putCallPool.New().(*putCall)
	c.ctx, c.ref, c.m = context.Background(), Ref{key: []byte("row")}, &structpb.Value{}
	c.own, c.attempts = true, 1
	c.d.reset(&Table{})
	c.d.new.put(idxEntry{key: []byte("entry"), value: []byte("target")})
	c.d.kb, c.d.vb = append(c.d.kb, "row key"...), append(c.d.vb, "row value"...)
	checkReleaseForgets(t, c, c.release, func(name string, f reflect.Value) bool {
		switch name {
		case "runFn":
			if f.IsNil() {
				t.Errorf("runFn: nil after release, want the method value kept")
			}
		case "d":
			if len(c.d.kb) != 0 || len(c.d.vb) != 0 || cap(c.d.kb) == 0 || cap(c.d.vb) == 0 {
				t.Errorf("d's buffers: lengths %d and %d, capacities %d and %d after release, want empty and kept", len(c.d.kb), len(c.d.vb), cap(c.d.kb), cap(c.d.vb))
			}
			rest := c.d
			rest.kb, rest.vb = nil, nil
			if !reflect.ValueOf(rest).IsZero() {
				t.Errorf("d: kept after release")
			}
		default:
			return false
		}
		return true
	})
}

// TestPutCallAttemptResetsDelta runs a pooled putCall's function twice, as
// a retried Put does: an attempt that changes row r1's email from e1 to e9
// and is not committed, then one that changes r0's from e0 to e5. The
// second must write only its own entries: had it kept the first's, e1's
// entry would be deleted and e9's set, so that a new row could take e1 and
// none could take e9.
func TestPutCallAttemptResetsDelta(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openEvolve(t, memkv.New(), evolveSchema(t, `, index: [{name: "by_email", id: 1, fields: ["email"], unique: true}]`, ""))
	putEvolveRows(t, db, 2, 2) // r0000 e0, r0001 e1
	tbl, _ := db.Table("A")
	row := func(id, email string) (Ref, proto.Message) {
		m := dynamicpb.NewMessage(tbl.s.Desc)
		m.Set(tbl.s.Desc.Fields().ByName("id"), protoreflect.ValueOfString(id))
		m.Set(tbl.s.Desc.Fields().ByName("email"), protoreflect.ValueOfString(email))
		ref, err := tbl.RowOf(m)
		if err != nil {
			t.Fatal(err)
		}
		return ref, m
	}
	c := putCallPool.New().(*putCall)
	c.ctx, c.own = ctx, true
	c.ref, c.m = row("r0001", "e9")
	abort := errors.New("not committed")
	if err := db.store.Update(ctx, func(txn kv.Txn) error { return errors.Join(c.run(txn), abort) }); !errors.Is(err, abort) {
		t.Fatalf("the first attempt: %v, want %v", err, abort)
	}
	c.ref, c.m = row("r0000", "e5")
	if err := db.store.Update(ctx, c.run); err != nil {
		t.Fatalf("the second attempt: %v", err)
	}
	ref, m := row("r0002", "e1")
	if err := db.Put(ctx, ref, m); !errors.Is(err, ErrUniqueViolation) {
		t.Errorf("Put of a new row with e1 (r0001's): %v, want %v", err, ErrUniqueViolation)
	}
	ref, m = row("r0003", "e9")
	if err := db.Put(ctx, ref, m); err != nil {
		t.Errorf("Put of a new row with e9 (no row's): %v", err)
	}
}
