package occ

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry bounds: an Update runs its function at most MaxAttempts times,
// waiting between attempts a random time up to a backoff that starts at
// minBackoff and doubles up to maxBackoff (full jitter, so that colliding
// transactions spread out instead of colliding again in step).
const (
	MaxAttempts = 100
	minBackoff  = 20 * time.Microsecond
	maxBackoff  = 5 * time.Millisecond
)

// Update runs attempt until it succeeds, fails with an error other than a
// conflict, or has conflicted MaxAttempts times; then it returns an error
// wrapping kv.ErrConflict. Waiting between attempts honours ctx. Only a
// conflict found by this package's validation is retried: an error the
// caller's function returns, even one wrapping kv.ErrConflict, is returned
// unchanged.
func Update(ctx context.Context, name string, attempt func() error) error {
	backoff := minBackoff
	for n := 1; ; n++ {
		err := attempt()
		if !errors.Is(err, errConflict) {
			return err
		}
		if n == MaxAttempts {
			return fmt.Errorf("%s: update: gave up after %d attempts: %w", name, n, err)
		}
		t := time.NewTimer(rand.N(backoff) + 1)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: update: %w (while retrying a conflict)", name, ctx.Err())
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// IsConflict reports whether err is a failed validation of this package
// (which Update retries), as opposed to an error of the caller's function.
func IsConflict(err error) bool { return errors.Is(err, errConflict) }
