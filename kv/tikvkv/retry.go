package tikvkv

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"

	tikverr "github.com/tikv/client-go/v2/error"
	"github.com/tikv/client-go/v2/tikv"

	"github.com/protoql/protoql/kv"
)

// outcome is how one attempt at a transaction ended.
type outcome int

const (
	finished   outcome = iota // committed, or failed for good
	conflicted                // lost a write conflict in TiKV: retry
	queued                    // touched a lane another retry holds: wait for it
)

// run runs fn in a new transaction and commits it, until the commit does not
// lose a write conflict or the retries run out. A retry holds the lane of
// the key it lost on (see lanes).
func (s *Store) run(ctx context.Context, lockReads bool, fn func(*txn) error) error {
	held := noLane
	defer func() { s.lanes.release(held) }()
	ignoreLanes := false
	backoff := s.opts.RetryBackoff
	for conflicts, waits := 0, 0; ; {
		s.lanes.progress(held)
		out, lane, err := s.attempt(ctx, lockReads, fn, held, ignoreLanes)
		switch out {
		case finished:
			return err
		case queued:
			waits++
			ignoreLanes = waits >= maxLaneWaits
		case conflicted:
			conflicts++
			if conflicts > s.opts.Retries {
				return fmt.Errorf("tikvkv: %w: gave up after %d attempts: %w", kv.ErrConflict, conflicts, err)
			}
			if err := sleep(ctx, backoff); err != nil {
				return err
			}
			backoff = min(2*backoff, s.opts.MaxRetryBackoff)
		}
		if lane != held {
			s.lanes.release(held)
			held = noLane
			got, err := s.lanes.acquire(ctx, lane)
			if err != nil {
				return err
			}
			if got {
				held = lane
			} else {
				ignoreLanes = true // waited long enough: stop queueing
			}
		}
	}
}

// attempt runs fn once in a new transaction and commits it. It returns the
// lane to wait in when the outcome is conflicted or queued; an error from fn
// is returned unchanged. held is the lane the caller holds, or noLane.
func (s *Store) attempt(ctx context.Context, lockReads bool, fn func(*txn) error, held int, ignoreLanes bool) (outcome, int, error) {
	ts, err := s.timestamp(ctx)
	if err != nil {
		return finished, noLane, err
	}
	kt, err := s.kvs.Begin(tikv.WithStartTS(ts))
	if err != nil {
		return finished, noLane, fmt.Errorf("tikvkv: begin: %w", err)
	}
	kt.GetUnionStore().SetEntrySizeLimit(s.opts.EntrySizeLimit, s.opts.TxnSizeLimit)
	t := &txn{
		reader: &reader{s: s, snap: s.snapshot(kt.GetSnapshot()), txn: kt, lock: lockReads},
		ctx:    ctx,
	}
	sent := false
	defer func() {
		t.ended.Store(true)
		if !sent {
			_ = kt.Rollback() // also when fn panics
		}
	}()
	if err := fn(t); err != nil {
		return finished, noLane, err
	}
	switch {
	case t.err != nil:
		return finished, noLane, t.err
	case !t.wrote:
		// Nothing to commit: the reads came from one snapshot, which
		// is all a read-only transaction needs, locked keys or not.
		return finished, noLane, nil
	}
	if err := ctx.Err(); err != nil {
		return finished, noLane, err
	}
	if !ignoreLanes {
		if busy := t.lanes & s.lanes.busyExcept(held); busy != 0 {
			return queued, bits.TrailingZeros64(busy), nil
		}
	}
	sent = true // Commit cleans up after itself, even when it fails
	if err := kt.Commit(ctx); err != nil {
		err = fmt.Errorf("tikvkv: commit: %w", err)
		if isConflict(err) {
			return conflicted, laneOf(conflictKey(err)), err
		}
		return finished, noLane, err
	}
	return finished, noLane, nil
}

// isConflict reports whether a commit failed because another transaction
// wrote one of its keys (or a key it locked) after it started, so that
// running it again on a newer snapshot may succeed.
func isConflict(err error) bool {
	if _, ok := errors.AsType[*tikverr.ErrWriteConflict](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tikverr.ErrWriteConflictInLatch](err); ok {
		return true
	}
	_, ok := errors.AsType[*tikverr.ErrRetryable](err)
	return ok
}

// conflictKey returns the key a write conflict was on, or nil if err does not
// say.
func conflictKey(err error) []byte {
	if wc, ok := errors.AsType[*tikverr.ErrWriteConflict](err); ok && wc.WriteConflict != nil {
		return wc.Key
	}
	return nil
}

// sleep pauses for a random duration in [d/2, d], or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	d = d/2 + rand.N(d/2+1)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lanes make this process's transactions on a hot key take turns once they
// have started to conflict. Optimistic transactions are unfair: a
// transaction that lost a conflict is no likelier to win its next attempt,
// so with a bounded number of retries a hot key (a counter incremented by
// many goroutines) makes some Updates give up.
//
// Keys hash to one of 64 lanes. A transaction that lost a write conflict
// retries holding the lane of the key it lost on, until it ends. Every
// transaction of the Store notes the lanes of the keys it writes or locks;
// before committing, one that touches a lane held by another transaction
// does not send its commit (it would most likely lose, or make the holder
// lose) but waits for the lane and runs again holding it. A hot key thus
// gets a queue, in this process, once contention shows.
//
// Lanes are a local heuristic, not a lock: transactions in other processes
// ignore them, and keys that share a lane queue together. A transaction
// waits for a lane as long as its holder makes progress (starts a new
// attempt, or leaves) at least every laneWait, and waits for at most
// maxLaneWaits lanes; then it stops queueing. (An Update nested in the fn of
// the lane's holder would otherwise wait for its parent forever.) Waiting
// for a lane does not count as a retry.
type lanes struct {
	sem  [64]chan struct{}
	gen  [64]atomic.Uint64 // bumped by each attempt of a lane's holder
	busy atomic.Uint64     // bit i: lane i is held
}

const (
	noLane       = -1
	laneWait     = time.Second // longest wait without the holder's progress
	maxLaneWaits = 4           // lanes waited for, at most, by one transaction
)

var laneSeed = maphash.MakeSeed()

func newLanes() *lanes {
	l := new(lanes)
	for i := range l.sem {
		l.sem[i] = make(chan struct{}, 1)
	}
	return l
}

// laneOf returns the lane of a stored key.
func laneOf(key []byte) int { return int(maphash.Bytes(laneSeed, key) % 64) }

// busyExcept returns the held lanes other than own, as a bit set.
func (l *lanes) busyExcept(own int) uint64 {
	busy := l.busy.Load()
	if own != noLane {
		busy &^= 1 << own
	}
	return busy
}

// acquire waits for lane i while its holder makes progress. It reports
// whether it got the lane, or returns ctx's error if ctx ended first.
func (l *lanes) acquire(ctx context.Context, i int) (bool, error) {
	select {
	case l.sem[i] <- struct{}{}:
	default:
		if !l.wait(ctx, i) {
			return false, ctx.Err()
		}
	}
	l.busy.Or(1 << i)
	l.gen[i].Add(1)
	return true, nil
}

// wait blocks until it takes lane i's semaphore, or returns false when ctx
// ends or the holder makes no progress for laneWait.
func (l *lanes) wait(ctx context.Context, i int) bool {
	timer := time.NewTimer(laneWait)
	defer timer.Stop()
	seen := l.gen[i].Load()
	for {
		select {
		case l.sem[i] <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		case <-timer.C:
			now := l.gen[i].Load()
			if now == seen {
				return false
			}
			seen = now
			timer.Reset(laneWait)
		}
	}
}

// progress notes that the holder of lane i starts an attempt; noLane is a
// no-op.
func (l *lanes) progress(i int) {
	if i != noLane {
		l.gen[i].Add(1)
	}
}

// release releases lane i; noLane is a no-op.
func (l *lanes) release(i int) {
	if i != noLane {
		l.busy.And(^(uint64(1) << i))
		l.gen[i].Add(1)
		<-l.sem[i]
	}
}
