// Package occ is the optimistic concurrency control shared by the embedded
// engines (kv/memkv, kv/pebblekv): serializable transactions without a lock
// held across the caller's function.
//
// A transaction ([Txn]) reads one snapshot of the engine, taken at a commit
// sequence number, and records what it read from it: the point keys, found
// or not, and the key ranges its iterators actually covered (including
// ranges where iteration stopped early: only what was visited counts). Its
// writes go to a private ordered buffer that its own reads see. At commit
// the [Manager] takes its short commit lock, checks the read set against the
// write sets of every commit after the snapshot's sequence (the commit log)
// and, if nothing the transaction read was written since, applies the
// writes and logs their write set under the next sequence number. A failed
// check is a conflict: [Update] runs the function again after a jittered
// backoff, up to a bound, then fails with kv.ErrConflict. This is
// backward-validating optimistic concurrency control, as in FoundationDB's
// resolver and Badger: the committed history is equivalent to running the
// transactions one at a time in commit order, so it is serializable, and a
// transaction that wrote nothing needs no check at all (its snapshot is a
// state of that serial history).
//
// Blind writes (the engine's Apply) are never checked but are logged, so
// that they conflict with transactions that read what they wrote.
//
// Memory is bounded: a log record is kept only while some live
// transaction's snapshot precedes it, and a transaction older than the
// manager's maximum lifetime is expired (its later calls and its commit
// fail with kv.ErrExpired), so a stalled one cannot pin the log forever.
package occ

import (
	"container/list"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/protoql/protoql/kv"
)

// DefaultMaxLifetime is how long a transaction may run before it expires
// when the engine is given no limit.
const DefaultMaxLifetime = time.Minute

// Manager validates and orders the commits of one store. It is safe for
// concurrent use.
type Manager struct {
	name        string // the engine's error prefix
	maxLifetime time.Duration

	mu   sync.Mutex
	seq  uint64    // the last commit's sequence number
	log  []record  // commits after the oldest live snapshot, in sequence order
	live list.List // of *Reg, in begin order (so by nondecreasing seq)
}

// record is one logged commit.
type record struct {
	seq uint64
	ws  *WriteSet
}

// Reg is a live transaction's registration: its snapshot's sequence
// number and start time.
type Reg struct {
	seq     uint64
	start   time.Time
	elem    *list.Element // nil once ended or expired; under the manager's lock
	expired atomic.Bool   // set by prune; read by the transaction's calls
}

// NewManager returns a manager for the engine called name; maxLifetime <= 0
// means DefaultMaxLifetime.
func NewManager(name string, maxLifetime time.Duration) *Manager {
	if maxLifetime <= 0 {
		maxLifetime = DefaultMaxLifetime
	}
	return &Manager{name: name, maxLifetime: maxLifetime}
}

// MaxLifetime returns the manager's transaction lifetime limit.
func (m *Manager) MaxLifetime() time.Duration { return m.maxLifetime }

// Begin registers a transaction and calls snap, under the commit lock, to
// take the engine's snapshot: it must capture exactly the commits made so
// far. The caller must call End.
func (m *Manager) Begin(snap func()) *Reg {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap()
	r := &Reg{seq: m.seq, start: time.Now()}
	r.elem = m.live.PushBack(r)
	return r
}

// End unregisters a transaction and drops the log records no live
// transaction needs any more.
func (m *Manager) End(r *Reg) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.elem != nil {
		m.live.Remove(r.elem)
		r.elem = nil
	}
	m.prune(time.Now())
}

// expired reports whether r outlived the maximum lifetime.
func (m *Manager) expired(r *Reg, now time.Time) bool {
	return r.expired.Load() || now.Sub(r.start) > m.maxLifetime
}

// LogLen returns the number of commits in the log, for tests of pruning.
func (m *Manager) LogLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.log)
}

// prune expires transactions past their lifetime and drops the log records
// that no live snapshot precedes. The lock must be held.
func (m *Manager) prune(now time.Time) {
	for e := m.live.Front(); e != nil; e = m.live.Front() {
		r := e.Value.(*Reg)
		if now.Sub(r.start) <= m.maxLifetime {
			break
		}
		r.expired.Store(true)
		m.live.Remove(e)
		r.elem = nil
	}
	if m.live.Len() == 0 {
		clear(m.log)
		m.log = m.log[:0]
		return
	}
	oldest := m.live.Front().Value.(*Reg).seq
	i := 0
	for i < len(m.log) && m.log[i].seq <= oldest {
		i++
	}
	if i > 0 {
		clear(m.log[:i])
		m.log = m.log[i:]
	}
}

// errConflict marks a failed validation, which Update retries.
var errConflict = fmt.Errorf("%w: %s", kv.ErrConflict, errConflictText)

const errConflictText = "a key read by the transaction was written by a later commit"

// Commit validates the read set of the transaction registered as r
// (nil for a blind write, which is not validated) and, if it holds, calls
// apply under the commit lock to write to the engine and logs ws, which
// it calls only when some live transaction may need the record. apply must
// make the writes visible to snapshots taken after it returns.
func (m *Manager) Commit(r *Reg, rs *ReadSet, ws func() *WriteSet, apply func() error) error {
	if rs != nil {
		rs.seal()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if r != nil {
		if m.expired(r, now) {
			return m.expiredError(r, now)
		}
		if rs != nil && !rs.Empty() {
			for i := range m.log {
				if m.log[i].seq > r.seq && m.log[i].ws.conflicts(rs) {
					return errConflict
				}
			}
		}
	}
	if err := apply(); err != nil {
		return err
	}
	m.seq++
	others := m.live.Len()
	if r != nil && r.elem != nil {
		others--
	}
	if others > 0 {
		m.log = append(m.log, record{seq: m.seq, ws: ws()})
	}
	m.prune(now)
	return nil
}

func (m *Manager) expiredError(r *Reg, now time.Time) error {
	return fmt.Errorf("%s: transaction ran %v, over its limit of %v: %w", m.name, now.Sub(r.start).Round(time.Millisecond), m.maxLifetime, kv.ErrExpired)
}

// Check returns an error wrapping kv.ErrExpired if r has expired; its
// reads and writes call it.
func (m *Manager) Check(r *Reg) error {
	now := time.Now()
	if m.expired(r, now) {
		return m.expiredError(r, now)
	}
	return nil
}
