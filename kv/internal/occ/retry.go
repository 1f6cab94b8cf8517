package occ

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/protoql/protoql/kv"
)

// Retry bounds: an Update runs its function at most MaxAttempts times,
// waiting between attempts a random time up to a backoff (full jitter, so
// that colliding transactions spread out instead of colliding again in
// step). The backoff starts at the duration of the attempt that conflicted,
// from its registration to its validation (read from the conflict's error,
// so that an attempt reads no clock for it), within [minBackoff,
// maxBackoff] — transactions that collide are about that long, whether
// local (microseconds) or driven over the network (milliseconds) — and
// doubles after each conflict, up to maxBackoff.
const (
	MaxAttempts = 100
	minBackoff  = 10 * time.Microsecond
	maxBackoff  = 50 * time.Millisecond
)

// Update runs attempt until it succeeds, fails with an error other than a
// conflict, or has conflicted MaxAttempts times; then it returns an error
// wrapping kv.ErrConflict. Waiting between attempts honours ctx. Only a
// conflict found by this package's validation is retried: an error the
// caller's function returns, even one wrapping kv.ErrConflict, is returned
// unchanged.
func Update(ctx context.Context, name string, attempt func() error) error {
	return update(ctx, name, attempt, jitterWait)
}

// update is Update with the wait between attempts as a parameter, so that
// tests can see the backoffs without sleeping: wait is given the backoff
// and returns a non-nil error (ctx's) to stop retrying.
func update(ctx context.Context, name string, attempt func() error, wait func(ctx context.Context, backoff time.Duration) error) error {
	var backoff time.Duration
	for n := 1; ; n++ {
		err := attempt()
		// A failed validation is always a *conflictError (validate makes
		// no other), so its duration is always there.
		ce := conflictOf(err)
		if ce == nil {
			return err
		}
		if n == 1 {
			backoff = min(max(ce.ran, minBackoff), maxBackoff)
		}
		if n == MaxAttempts {
			// Not errConflict itself, so that an Update nested in another's
			// function does not make the outer one retry on its behalf.
			return fmt.Errorf("%s: update: gave up after %d attempts, the last because %v: %w", name, n, errConflictText, kv.ErrConflict)
		}
		if err := wait(ctx, backoff); err != nil {
			return fmt.Errorf("%s: update: %w (while retrying a conflict)", name, err)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// conflictOf returns the failed validation in err's chain, or nil. It is
// errors.As without its allocation: As makes its target escape, which
// would cost every Update an allocation, successful ones included.
func conflictOf(err error) *conflictError {
	for {
		switch e := err.(type) {
		case *conflictError:
			return e
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				if ce := conflictOf(err); ce != nil {
					return ce
				}
			}
			return nil
		default:
			return nil
		}
	}
}

// jitterWait waits a random time in (0, backoff], or until ctx ends, when
// it returns ctx's error.
func jitterWait(ctx context.Context, backoff time.Duration) error {
	t := time.NewTimer(rand.N(backoff) + 1)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// IsConflict reports whether err is a failed validation of this package
// (which Update retries), as opposed to an error of the caller's function.
func IsConflict(err error) bool { return errors.Is(err, errConflict) }
