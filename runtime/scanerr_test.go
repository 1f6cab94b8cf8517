package runtime_test

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

var errViewEnd = errors.New("test: the view failed to end")

// viewEndFails is a CloseFails store whose View, while fail is set, also
// fails after its function returned nil (a store that could not release
// its snapshot).
type viewEndFails struct {
	*kvtest.CloseFails
}

func (s viewEndFails) View(ctx context.Context, fn func(kv.Reader) error) error {
	if err := s.CloseFails.View(ctx, fn); err != nil || !s.Fail.Load() {
		return err
	}
	return errViewEnd
}

// TestScanYieldsOneError: a read's sequence yields at most one error and
// nothing after it, also to a consumer that keeps ranging (its yield
// returns true) — here a scan whose iterator fails to close, on a store
// whose View then fails too. DB.Scan used to yield the View's error as a
// second one.
func TestScanYieldsOneError(t *testing.T) {
	ctx := context.Background()
	store := viewEndFails{kvtest.NewCloseFails(memkv.New())}
	db := openDB(t, store)
	users := table(t, db, "User")
	typed := must[testpb.UserTable](t)(testpb.NewUserTable(db))
	first := putUsers(t, db, users, 3, 2)
	sessions := must[runtime.Ref](t)(first.FieldByName("sessions"))
	q := must[*query.Query](t)(query.Compile(db.Catalog(), `User { registered }`))
	store.Fail.Store(true)
	for _, c := range []struct {
		name  string
		count func() (errs, after int)
	}{
		{"DB.Scan", func() (int, int) { return countErrors(db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{})) }},
		{"DB.Scan reverse", func() (int, int) {
			return countErrors(db.Scan(ctx, users, runtime.KeyRange{}, runtime.ScanOptions{Reverse: true}))
		}},
		{"typed Scan", func() (int, int) { return countErrors(typed.Scan(ctx, nil, runtime.ScanOptions{})) }},
		{"DB.ScanMap", func() (int, int) {
			return countErrors(db.ScanMap(ctx, sessions, runtime.KeyRange{}, runtime.ScanOptions{}))
		}},
		{"DB.Query", func() (int, int) { return countErrors(db.Query(ctx, q, nil)) }},
	} {
		errs, after := c.count()
		if errs != 1 || after != 0 {
			t.Errorf("%s: %d errors and %d values after the first; want 1 and 0", c.name, errs, after)
		}
	}
}

// countErrors ranges over all of seq, never stopping, and counts the
// errors and the values that came after the first error.
func countErrors[V any](seq iter.Seq2[V, error]) (errs, after int) {
	for _, err := range seq {
		switch {
		case err != nil:
			errs++
		case errs > 0:
			after++
		}
	}
	return errs, after
}
