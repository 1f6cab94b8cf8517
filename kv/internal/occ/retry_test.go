package occ

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/protoql/protoql/kv"
)

// TestUpdateBackoff: the first backoff is the conflicting attempt's
// duration from its conflict error, clamped to [minBackoff, maxBackoff],
// and each later one doubles up to maxBackoff. The waits are recorded, not
// slept, so nothing depends on timing.
func TestUpdateBackoff(t *testing.T) {
	cases := []struct {
		ran  time.Duration // the first conflict's; later ones say 1h
		want []time.Duration
	}{
		{3 * time.Millisecond, []time.Duration{3 * time.Millisecond, 6 * time.Millisecond, 12 * time.Millisecond, 24 * time.Millisecond, 48 * time.Millisecond, maxBackoff}},
		{time.Microsecond, []time.Duration{minBackoff, 2 * minBackoff, 4 * minBackoff, 8 * minBackoff, 16 * minBackoff, 32 * minBackoff}},
		{0, []time.Duration{minBackoff, 2 * minBackoff, 4 * minBackoff, 8 * minBackoff, 16 * minBackoff, 32 * minBackoff}},
		{time.Hour, []time.Duration{maxBackoff, maxBackoff, maxBackoff, maxBackoff, maxBackoff, maxBackoff}},
	}
	for _, c := range cases {
		var waits []time.Duration
		wait := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
		n := 0
		err := update(t.Context(), "test", func() error {
			n++
			switch {
			case n == 1:
				return &conflictError{ran: c.ran}
			case n <= len(c.want):
				return &conflictError{ran: time.Hour} // only the first counts
			}
			return nil
		}, wait)
		if err != nil || n != len(c.want)+1 {
			t.Errorf("ran %v: %v after %d attempts, want nil after %d", c.ran, err, n, len(c.want)+1)
		}
		if !slices.Equal(waits, c.want) {
			t.Errorf("ran %v: backoffs %v, want %v", c.ran, waits, c.want)
		}
	}
}

// TestUpdateRetriesOnlyConflicts: Update gives up after MaxAttempts
// conflicts with kv.ErrConflict (not a conflict of this package, which an
// outer Update would retry), returns other errors unchanged, an error
// wrapping kv.ErrConflict from the function included, and stops when the
// wait reports the context's end. The first backoff comes from a real
// conflict of a Manager too.
func TestUpdateRetriesOnlyConflicts(t *testing.T) {
	var waits []time.Duration
	wait := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	n := 0
	err := update(t.Context(), "test", func() error { n++; return &conflictError{ran: time.Millisecond} }, wait)
	if !errors.Is(err, kv.ErrConflict) || IsConflict(err) || n != MaxAttempts || len(waits) != MaxAttempts-1 {
		t.Errorf("always conflicting: %v after %d attempts and %d waits, want kv.ErrConflict (not IsConflict) after %d and %d", err, n, len(waits), MaxAttempts, MaxAttempts-1)
	}

	// A conflict wrapped by the engine is still one, with its duration.
	for _, wrap := range []func(error) error{
		func(err error) error { return fmt.Errorf("engine: %w", err) },
		func(err error) error { return errors.Join(errors.New("another"), fmt.Errorf("engine: %w", err)) },
	} {
		waits, n = nil, 0
		err = update(t.Context(), "test", func() error {
			if n++; n == 1 {
				return wrap(&conflictError{ran: 3 * time.Millisecond})
			}
			return nil
		}, wait)
		if err != nil || n != 2 || !slices.Equal(waits, []time.Duration{3 * time.Millisecond}) {
			t.Errorf("a wrapped conflict: %v after %d attempts, backoffs %v, want nil after 2, [3ms]", err, n, waits)
		}
	}

	own := errors.Join(errors.New("the function's own"), kv.ErrConflict)
	waits, n = nil, 0
	err = update(t.Context(), "test", func() error { n++; return own }, wait)
	if err != own || n != 1 || len(waits) != 0 {
		t.Errorf("the function's error: %v after %d attempts, %d waits, want it unchanged after 1, 0", err, n, len(waits))
	}

	ctxErr := context.Canceled
	n = 0
	err = update(t.Context(), "test", func() error { n++; return &conflictError{} }, func(context.Context, time.Duration) error { return ctxErr })
	if !errors.Is(err, context.Canceled) || errors.Is(err, kv.ErrConflict) || n != 1 {
		t.Errorf("wait ended: %v after %d attempts, want context.Canceled after 1", err, n)
	}

	// A real conflict of a transaction registered a minute ago.
	m := NewManager("test", time.Hour)
	apply := func([]Item) error { return nil }
	waits, n = nil, 0
	err = update(t.Context(), "test", func() error {
		n++
		if n > 1 {
			return nil
		}
		reg := m.Begin(nil)
		defer m.End(reg)
		reg.start -= int64(time.Minute)
		if err := m.CommitGrouped(nil, nil, &testItem{"W", "k"}, apply); err != nil {
			return err
		}
		var rs ReadSet
		rs.OnlyPoint([]byte("k"))
		return m.CommitGrouped(reg, &rs, &testItem{"R", "z"}, apply)
	}, wait)
	if err != nil || !slices.Equal(waits, []time.Duration{maxBackoff}) {
		t.Errorf("a real conflict after a minute: %v, backoffs %v, want nil, [%v]", err, waits, maxBackoff)
	}
}
