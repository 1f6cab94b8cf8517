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
// and, if nothing the transaction read was written since, gives the commit
// the next sequence number and logs its write set. A failed check is a
// conflict: [Update] runs the function again after a jittered backoff, up to
// a bound, then fails with kv.ErrConflict. This is backward-validating
// optimistic concurrency control, as in FoundationDB's resolver and Badger:
// the committed history is equivalent to running the transactions one at a
// time in commit order, so it is serializable, and a transaction that wrote
// nothing needs no check at all (its snapshot is a state of that serial
// history).
//
// Blind writes (the engine's Apply) are never checked but are logged, so
// that they conflict with transactions that read what they wrote.
//
// # Applying commits outside the lock
//
// [Manager.Commit] applies the writes to the engine under the commit lock,
// which suits an engine whose apply is a cheap in-memory step (kv/memkv).
// [Manager.CommitGrouped] applies them after releasing it, for an engine
// whose apply writes a log (kv/pebblekv): validation and sequencing stay
// under the short lock, and commits sequenced while another group is being
// applied queue up and are applied together as the next group, by one
// committer (the leader; the first of the group), in sequence order — the
// write-group design of LevelDB and RocksDB. A commit sequenced while no
// group is being applied is a group of one, which its committer applies
// without a place in the queue. So the engine's commit order is
// the sequence order exactly: groups are applied one at a time in order, and
// the engine must apply a group's items in the order given, atomically or
// as consecutive commits. (Applying commits concurrently would let a later
// commit U be applied before an earlier one T: if T read or wrote a key U
// writes, the engine's state — and any snapshot of it containing U but not
// T — would match no serial order, and T's read-modify-write of a key U
// overwrote blindly would outlive U's write.)
//
// A snapshot must not miss a commit that validation believes it saw, so
// [Manager.Begin] stamps a snapshot with the visible watermark: the highest
// sequence number whose commit and every earlier one have been applied. The
// engine's snapshot, taken then, contains at least those commits, and
// perhaps some of a group being applied; those are logged with higher
// sequence numbers, so reading what they wrote is a conflict (a needless
// retry at worst, never a missed one), and since the engine applies in
// sequence order, the snapshot is still a prefix of the serial history.
//
// A commit sequenced while no transaction is live does not build its write
// set: no snapshot precedes it, except one taken while it is being applied,
// and Begin builds the write sets of the commits in flight (the caller's
// write set function stays valid until CommitGrouped returns; if it panics
// there, Begin recovers and the commit's own caller gets the panic, see
// CommitGrouped). If applying a
// group fails, every commit of it fails with that error; their records stay
// in the log like committed ones (the engine may have applied some of the
// writes, so they are conservatively treated as possibly committed: at worst
// a conflict), and are dropped like any other once no live snapshot precedes
// them. The watermark moves past them, so no snapshot waits for them.
//
// Memory is bounded: a log record is kept only while some live
// transaction's snapshot precedes it (or while it is being applied), and a
// transaction older than the manager's maximum lifetime is expired (its
// later calls and its commit fail with kv.ErrExpired), so a stalled one
// cannot pin the log forever.
package occ

import (
	"cmp"
	"fmt"
	"slices"
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
	getOp       string // name + ": get", the Op of a Get's kv.NotFoundError
	maxLifetime time.Duration

	mu      sync.Mutex
	seq     uint64   // the last sequenced commit's sequence number
	applied uint64   // the visible watermark: commits up to it are applied
	log     []record // commits after the oldest live snapshot or in flight, in sequence order
	live    regList  // live registrations, in begin order (so by nondecreasing seq)

	// CommitGrouped's queue: commits sequenced and waiting to be applied,
	// in sequence order, and whether a leader is applying a group.
	queue   []*pending
	leading bool
	group   []Item     // the leader's group, reused
	members []*pending // and its commits

	// srcPanics holds, by sequence number, what the WriteSet of a commit
	// in flight panicked with when another goroutine built it (Begin, or
	// validate): its committer re-panics with it once its group is
	// finished (finishGroup). Nil while empty, which is always but after
	// an engine's bug.
	srcPanics map[uint64]any
}

// record is one logged commit. ws is nil while it is in flight and no
// snapshot precedes it (src then builds it), and nil after it was applied
// if none did: no live transaction needs it.
type record struct {
	seq uint64
	ws  *WriteSet
	src Item
}

// Reg is a live transaction's registration: its snapshot's sequence
// number and start time.
type Reg struct {
	seq   uint64
	start int64 // monoNow
	// prev and next link the live list; listed says r is in it (false
	// once ended or expired). All three are under the manager's lock.
	prev, next *Reg
	listed     bool
	expired    atomic.Bool // set by prune; read by the transaction's calls
	// ended is set, under the lock, when CommitGrouped unregistered r, so
	// that End need not take the lock again.
	ended atomic.Bool
}

// regList is the manager's list of live registrations, linked through
// the Regs themselves, so that registering allocates no list element.
type regList struct {
	head, tail *Reg
	n          int
}

func (l *regList) Len() int    { return l.n }
func (l *regList) Front() *Reg { return l.head }

func (l *regList) pushBack(r *Reg) {
	r.prev, r.next, r.listed = l.tail, nil, true
	if l.tail != nil {
		l.tail.next = r
	} else {
		l.head = r
	}
	l.tail = r
	l.n++
}

// remove unlinks r if it is listed.
func (l *regList) remove(r *Reg) {
	if !r.listed {
		return
	}
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		l.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		l.tail = r.prev
	}
	r.prev, r.next, r.listed = nil, nil, false
	l.n--
}

// NewManager returns a manager for the engine called name; maxLifetime <= 0
// means DefaultMaxLifetime.
func NewManager(name string, maxLifetime time.Duration) *Manager {
	if maxLifetime <= 0 {
		maxLifetime = DefaultMaxLifetime
	}
	return &Manager{name: name, getOp: name + ": get", maxLifetime: maxLifetime}
}

// MaxLifetime returns the manager's transaction lifetime limit.
func (m *Manager) MaxLifetime() time.Duration { return m.maxLifetime }

// Begin registers a transaction and calls snap, under the commit lock, to
// take the engine's snapshot: it must capture exactly the commits made so
// far. The caller must call End.
//
// snap may be nil for a transaction that reads the engine's newest state
// at each read instead (kv.LatestUpdater): every commit such a read can see
// beyond the ones Begin's watermark covers is logged after it, so
// validation treats reading what it wrote as a conflict, as it does for a
// snapshot that caught a commit in flight. Such a transaction must be
// validated (Validate) before its function's error is trusted.
func (m *Manager) Begin(snap func()) *Reg {
	r := new(Reg)
	m.BeginReg(r, snap)
	return r
}

// BeginReg is Begin with a Reg the caller provides, so that it can reuse
// it: r must be a zero Reg, and may be reused once End(r) has returned.
func (m *Manager) BeginReg(r *Reg, snap func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if snap != nil {
		snap()
	}
	r.seq, r.start = m.applied, monoNow()
	// The snapshot may precede the commits in flight: build their write
	// sets while their committers still wait (see the package doc). Before
	// r is listed, so that a WriteSet that panics leaves no registration
	// behind (the deferred unlock leaves no lock).
	for i := len(m.log) - 1; i >= 0 && m.log[i].seq > m.applied; i-- {
		if rec := &m.log[i]; rec.src != nil {
			m.buildWriteSet(rec)
		}
	}
	m.live.pushBack(r)
}

// buildWriteSet builds the write set of rec, a commit in flight that no
// snapshot preceded when it was sequenced, for a snapshot that does. It
// runs on the goroutine of a caller other than rec's committer (Begin's,
// or a validation's), which must not be hit by a panic of the committer's
// Item: a WriteSet that panics makes rec conflict with every read (a
// needless retry at worst: the write set is unknown) and its panic is
// kept for the committer, who re-panics with it once its group is
// finished. The lock must be held.
func (m *Manager) buildWriteSet(rec *record) {
	src := rec.src
	rec.ws, rec.src = writesAll, nil // stays so if WriteSet panics
	defer func() {
		if v := recover(); v != nil {
			if m.srcPanics == nil {
				m.srcPanics = make(map[uint64]any)
			}
			m.srcPanics[rec.seq] = v
		}
	}()
	rec.ws = src.WriteSet()
}

// End unregisters a transaction and drops the log records no live
// transaction needs any more.
func (m *Manager) End(r *Reg) {
	if r.ended.Load() {
		return // unregistered by its commit, which pruned the log
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live.remove(r)
	m.prune()
}

// expired reports whether r outlived the maximum lifetime.
func (m *Manager) expired(r *Reg, now int64) bool {
	return r.expired.Load() || time.Duration(now-r.start) > m.maxLifetime
}

// epoch is the origin of monoNow.
var epoch = time.Now()

// monoNow returns the monotonic clock's nanoseconds since epoch: one read
// of the clock, where time.Now reads the wall clock too (each read costs
// 0.1-0.2 µs on some virtual machines, a fair share of a small commit).
func monoNow() int64 { return int64(time.Since(epoch)) }

// LogLen returns the number of commits in the log, for tests of pruning.
func (m *Manager) LogLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.log)
}

// prune expires transactions past their lifetime and drops the log records
// that no live snapshot precedes. The lock must be held. It reads the clock
// only when a transaction is live (a commit with none live, the common
// case of blind writes and of one writer at a time, reads it not at all).
func (m *Manager) prune() {
	var now int64
	if m.live.Len() > 0 {
		now = monoNow()
	}
	for r := m.live.Front(); r != nil; r = m.live.Front() {
		if time.Duration(now-r.start) <= m.maxLifetime {
			break
		}
		r.expired.Store(true)
		m.live.remove(r)
	}
	oldest := m.applied // commits in flight stay
	if m.live.Len() > 0 {
		oldest = min(oldest, m.live.Front().seq)
	}
	i := 0
	for i < len(m.log) && m.log[i].seq <= oldest {
		i++
	}
	switch {
	case i == len(m.log):
		zero(m.log)
		m.log = m.log[:0] // keeps the array: most commits are logged and dropped at once
	case i > 0:
		zero(m.log[:i])
		m.log = m.log[i:]
	}
}

// errConflict marks a failed validation, which Update retries.
var errConflict = fmt.Errorf("%w: %s", kv.ErrConflict, errConflictText)

const errConflictText = "a key read by the transaction was written by a later commit"

// conflictError is the error of a failed validation: errConflict, with how
// long the transaction ran from its registration to the validation, which
// Update's backoff starts from (so that it reads no clock of its own).
type conflictError struct{ ran time.Duration }

func (e *conflictError) Error() string { return errConflict.Error() }
func (e *conflictError) Unwrap() error { return errConflict }

// Commit validates the read set of the transaction registered as r
// (nil for a blind write, which is not validated) and, if it holds, calls
// apply under the commit lock to write to the engine and logs ws, which
// it calls only when some live transaction may need the record. apply must
// make the writes visible to snapshots taken after it returns. A manager
// must use either Commit or CommitGrouped, not both.
func (m *Manager) Commit(r *Reg, rs *ReadSet, ws func() *WriteSet, apply func() error) error {
	if rs != nil {
		rs.seal()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.validate(r, rs); err != nil {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	m.seq++
	m.applied = m.seq
	if m.others(r) > 0 {
		m.log = append(m.log, record{seq: m.seq, ws: ws()})
	}
	m.prune()
	return nil
}

// Validate checks the read set of the transaction registered as r against
// the commits logged since it began, without committing: a transaction
// reading the newest state (Begin with a nil snap) calls it before
// returning its function's error, which came from one state only if this
// holds. It returns a conflict (retried by Update) or an expiry.
func (m *Manager) Validate(r *Reg, rs *ReadSet) error {
	rs.seal()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.validate(r, rs)
}

// validate checks r's registration and read set rs against the commits
// logged after r's snapshot. The lock must be held. A blind write (r nil)
// has nothing to check, and does not read the clock.
func (m *Manager) validate(r *Reg, rs *ReadSet) error {
	if r == nil {
		return nil
	}
	now := monoNow()
	if m.expired(r, now) {
		return m.expiredError(r, now)
	}
	if rs == nil || rs.Empty() {
		return nil
	}
	// The log is in sequence order: from the first record after r's snapshot.
	for i := m.logIndex(r.seq + 1); i < len(m.log); i++ {
		rec := &m.log[i]
		if rec.src != nil {
			// Not reached (Begin built it for r), but cheap to be sure.
			m.buildWriteSet(rec)
		}
		// A nil write set was needed by no snapshot, r's included.
		if rec.ws != nil && rec.ws.conflicts(rs) {
			return &conflictError{ran: time.Duration(now - r.start)}
		}
	}
	return nil
}

// others returns the number of live transactions other than r. The lock
// must be held.
func (m *Manager) others(r *Reg) int {
	n := m.live.Len()
	if r != nil && r.listed {
		n--
	}
	return n
}

// Item is one commit of CommitGrouped: the engine's description of its
// writes.
type Item interface {
	// WriteSet returns the write set, for the commit log. It is called at
	// most once, before CommitGrouped returns, perhaps by another
	// goroutine, while the engine may be reading the item to apply it.
	// It runs under the commit lock; if it panics, the lock is released
	// and the panic reaches the caller of CommitGrouped, never another
	// goroutine's call: see CommitGrouped.
	WriteSet() *WriteSet
	// Size returns the approximate bytes of the writes. CommitGrouped
	// calls it once, first thing, outside the commit lock.
	Size() int
}

// pending is a commit sequenced by CommitGrouped and waiting to be
// applied. It is pooled, with its channel.
type pending struct {
	item Item
	size int // item.Size()
	seq  uint64
	wake chan struct{} // receives once per use: done, or made the leader
	done bool
	err  error
	// panicked is what the item's WriteSet panicked with when a Begin
	// built it (Manager.srcPanics), set with done.
	panicked any
}

var pendingPool = sync.Pool{New: func() any { return &pending{wake: make(chan struct{}, 1)} }}

// maxGroupSize bounds the bytes of a group (except its first commit), so
// that a leader's own commit does not wait behind an unbounded one.
const maxGroupSize = 1 << 20

// CommitGrouped validates the read set of the transaction registered as r
// (nil for a blind write) and, if it holds, sequences the commit, logs its
// write set and releases the commit lock; then the commit is applied, with
// the commits sequenced while the previous group was applied, by
// applyGroup, called on one group at a time in sequence order (see the
// package doc). applyGroup must apply the items in the order given and
// make them visible to snapshots taken after it returns; its error is
// every item's. It must not keep the slice. A validated r is
// unregistered here, so that its End then takes no lock.
//
// No exit leaves the manager wedged: if applyGroup panics, the group's
// other commits fail with an error saying so and the panic reaches the
// leader's caller; if it calls runtime.Goexit, they fail likewise and the
// leader's goroutine exits; either way the next group is handed on. An
// Item whose Size or WriteSet panics panics its caller (Size is called
// outside the lock, WriteSet with the lock released on the way out) and
// is not sequenced. A WriteSet built later, while the commit is in flight,
// by a Begin whose snapshot precedes it (see the package doc), is built on
// Begin's goroutine: if it panics, Begin recovers, the commit's record
// conflicts with every read of the transactions it was built for, and the
// panic reaches this call once the commit's group is finished (applied or
// failed, as applyGroup said), in place of its result.
func (m *Manager) CommitGrouped(r *Reg, rs *ReadSet, item Item, applyGroup func([]Item) error) error {
	if rs != nil {
		rs.seal()
	}
	size := item.Size()
	seq, p, err := m.enqueue(r, rs, item, size)
	if err != nil {
		return err
	}
	var group []Item
	var members []*pending
	if p != nil {
		defer func() {
			*p = pending{wake: p.wake}
			pendingPool.Put(p)
		}()
		<-p.wake
		// The leader set done and err before its send on wake, so they
		// are read without the lock: a finished member returns without
		// queueing for the lock behind the goroutines still committing.
		if p.done {
			if v := p.panicked; v != nil {
				panic(v) // its WriteSet's, recovered from a Begin
			}
			return p.err
		}
		// Made the leader: p heads the queue.
		m.mu.Lock()
		// The leader holds the lock; what follows up to the unlock calls
		// no code of the engine's, so nothing can leave the lock held.
		group = append(m.group[:0], item)
		n, bytes := 1, size
		for n < len(m.queue) && bytes+m.queue[n].size <= maxGroupSize {
			bytes += m.queue[n].size
			group = append(group, m.queue[n].item)
			n++
		}
		members = append(m.members[:0], m.queue[:n]...)
		k := copy(m.queue, m.queue[n:])
		zero(m.queue[k:])
		m.queue = m.queue[:k]
	} else {
		// Alone: no group was being applied, so none was queued either
		// (a leader hands the lead on while the queue is not empty).
		// The committer, holding the lock, applies its commit as a group
		// of one, without a place in the queue (no pending, wake channel
		// or queue copy).
		group, members = append(m.group[:0], item), m.members[:0]
	}
	m.group, m.members = group, members
	m.mu.Unlock()

	// One deferred function covers both ways applyGroup can fail to return
	// (one defer and no recover on the way of a group that returns, where
	// a recovering call around applyGroup made two): a leader that left
	// the group unfinished would wedge every later commit, and Close.
	returned := false
	defer func() {
		if returned {
			return
		}
		// applyGroup panicked (recovered here) or called runtime.Goexit
		// (recover then returns nil): fail the group and hand on, then
		// re-panic in the leader's own call, once the queue has moved on.
		v := recover()
		err := fmt.Errorf("%s: applying a group of %d commits did not return (runtime.Goexit)", m.name, len(group))
		if v != nil {
			err = fmt.Errorf("%s: applying a group of %d commits panicked: %v", m.name, len(group), v)
		}
		m.finishGroup(p, seq, group, members, err)
		if v != nil {
			panic(v)
		}
	}()
	err = applyGroup(group)
	returned = true
	wsPanic := m.finishGroup(p, seq, group, members, err)
	if wsPanic != nil {
		panic(wsPanic) // its WriteSet's, recovered from a Begin
	}
	return err
}

// enqueue validates and sequences a commit of CommitGrouped, whose
// sequence number it returns. If no group is being applied, the commit
// leads the next group, alone: p is nil and enqueue returns with the commit
// lock held. Otherwise the commit is queued as p, to wait for the group
// being applied, and the lock is released. On every other exit, panics
// included, the lock is released.
func (m *Manager) enqueue(r *Reg, rs *ReadSet, item Item, size int) (seq uint64, p *pending, err error) {
	m.mu.Lock()
	locked := false // set when the commit leads alone, keeping the lock
	defer func() {
		if !locked {
			m.mu.Unlock()
		}
	}()
	if err := m.validate(r, rs); err != nil {
		return 0, nil, err
	}
	// The write set first, before any change: if it panics, nothing
	// was sequenced. r, registered, does not count among the others
	// whether or not it is still listed.
	var rec record
	if m.others(r) > 0 {
		rec.ws = item.WriteSet()
	} else {
		rec.src = item
	}
	if r != nil {
		// Validated, r needs the log no more: unregister it now, so that
		// its End takes no lock (the final prune, or a later leader's,
		// drops what it kept).
		m.live.remove(r)
		r.ended.Store(true)
	}
	m.seq++
	rec.seq = m.seq
	m.log = append(m.log, rec)
	if !m.leading {
		m.leading, locked = true, true
		return m.seq, nil, nil
	}
	p = pendingPool.Get().(*pending)
	p.item, p.size, p.seq = item, size, m.seq
	m.queue = append(m.queue, p)
	return m.seq, p, nil
}

// finishGroup ends the group that the leader took, the commits sequenced
// from first on (applying group; members, the queued ones, led by p, or
// none if the leader's commit was alone, p nil), with err: it completes the
// members, wakes the next leader if commits queued meanwhile, and prunes the
// log. It takes the commit lock and releases it. It returns what the
// leader's own Item's WriteSet panicked with if another goroutine built it
// (buildWriteSet), for the leader to re-panic with; a member's it hands to
// the member.
func (m *Manager) finishGroup(p *pending, first uint64, group []Item, members []*pending, err error) (wsPanic any) {
	m.mu.Lock()
	last := first + uint64(len(group)) - 1 // a group holds consecutive sequence numbers
	for i := m.logIndex(first); i < len(m.log) && m.log[i].seq <= last; i++ {
		m.log[i].src = nil // the committers' items are theirs again
	}
	m.applied = last
	if m.srcPanics != nil {
		wsPanic = m.srcPanics[first]
		delete(m.srcPanics, first)
		for _, g := range members {
			if g != p {
				g.panicked = m.srcPanics[g.seq]
				delete(m.srcPanics, g.seq)
			}
		}
		if len(m.srcPanics) == 0 {
			m.srcPanics = nil
		}
	}
	for _, g := range members {
		g.done, g.err = true, err
		if g != p {
			g.wake <- struct{}{} // a member reads done and err without the lock
		}
	}
	zero(group)
	zero(members)
	var next *pending
	if len(m.queue) > 0 {
		next = m.queue[0]
	} else {
		m.leading = false
	}
	m.prune()
	m.mu.Unlock()
	// The next leader is woken once the lock is free, as it takes it
	// first thing: leading stays set, so no other commit leads meanwhile,
	// and only a leader takes commits off the queue, so next still heads it.
	if next != nil {
		next.wake <- struct{}{}
	}
	return wsPanic
}

// zero sets every element of s to its zero value, dropping what they
// point to. It is clear for the few elements of a group, queue or log
// prefix: a loop of stores, where clear calls into the Go runtime (≈ 45
// instructions for one element), twice or three times a commit. (A range
// loop of zero stores would be compiled back into the call.)
func zero[T any](s []T) {
	var z T
	for i := 0; i < len(s); i++ {
		s[i] = z
	}
}

// logIndex returns the index of the first record of the log with a
// sequence number of seq or more. The lock must be held.
//
// CommitGrouped logs a record for every sequence number and prune drops
// the oldest ones only, so the log's sequence numbers are consecutive and
// seq's record, when the log holds it, is at seq's distance from the
// first: finishGroup finds its group's records without a search. The
// search remains for any other log.
func (m *Manager) logIndex(seq uint64) int {
	n := len(m.log)
	switch {
	case n == 0 || seq > m.log[n-1].seq:
		return n
	case seq <= m.log[0].seq:
		return 0
	}
	if d := seq - m.log[0].seq; d < uint64(n) && m.log[d].seq == seq {
		return int(d)
	}
	i, _ := slices.BinarySearchFunc(m.log, seq, func(rec record, seq uint64) int { return cmp.Compare(rec.seq, seq) })
	return i
}

func (m *Manager) expiredError(r *Reg, now int64) error {
	return fmt.Errorf("%s: transaction ran %v, over its limit of %v: %w", m.name, time.Duration(now-r.start).Round(time.Millisecond), m.maxLifetime, kv.ErrExpired)
}

// Check returns an error wrapping kv.ErrExpired if r has expired; its
// reads and writes call it.
func (m *Manager) Check(r *Reg) error {
	now := monoNow()
	if m.expired(r, now) {
		return m.expiredError(r, now)
	}
	return nil
}
