package occ

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protoql/protoql/kv"
)

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition, not standing in for one
	}
}

// testItem is a commit writing one key.
type testItem struct{ name, key string }

func (it *testItem) WriteSet() *WriteSet { return &WriteSet{Points: [][]byte{[]byte(it.key)}} }
func (it *testItem) Size() int           { return 10 }

// TestCommitGroupedOrder: commits sequenced while a group is being applied
// wait for it and are applied after it, together, in sequence order; a
// snapshot begun meanwhile is stamped before them, and the write set of a
// commit in flight that no snapshot preceded when it was sequenced is
// still checked against a transaction begun while it was in flight.
func TestCommitGroupedOrder(t *testing.T) {
	m := NewManager("test", 0)
	startedA, releaseA := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var groups [][]string
	applyGroup := func(g []Item) error {
		names := make([]string, len(g))
		for i, it := range g {
			names[i] = it.(*testItem).name
		}
		mu.Lock()
		groups = append(groups, names)
		mu.Unlock()
		if names[0] == "A" {
			close(startedA)
			<-releaseA
		}
		return nil
	}
	var wg sync.WaitGroup
	commit := func(item, key string) {
		wg.Go(func() {
			if err := m.CommitGrouped(nil, nil, &testItem{item, key}, applyGroup); err != nil {
				t.Errorf("commit %s: %v", item, err)
			}
		})
	}
	commit("A", "k") // no transaction is live: its write set is not built
	<-startedA

	// A is being applied: a snapshot now must not claim to contain it.
	reg := m.Begin(func() {})
	if reg.seq != 0 {
		t.Fatalf("snapshot begun while commit 1 (A) is applied is stamped %d, want 0", reg.seq)
	}
	commit("B", "x")
	waitFor(t, "B to be sequenced", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.seq == 2
	})
	commit("C", "y")
	waitFor(t, "B and C to queue or be applied", func() bool {
		m.mu.Lock()
		queued := len(m.queue)
		m.mu.Unlock()
		mu.Lock()
		applied := len(groups) - 1
		mu.Unlock()
		return queued == 2 || applied > 0
	})
	mu.Lock()
	if len(groups) != 1 {
		t.Errorf("groups applied while the first is in flight: %v, want only [[A]]", groups)
	}
	mu.Unlock()
	close(releaseA)
	wg.Wait()
	if fmt.Sprint(groups) != "[[A] [B C]]" {
		t.Errorf("groups applied = %v, want [[A] [B C]] (in sequence order)", groups)
	}

	// The transaction begun while A was in flight read k, which A wrote.
	var rs ReadSet
	rs.addPoint([]byte("k"))
	err := m.CommitGrouped(reg, &rs, &testItem{"R", "z"}, applyGroup)
	if !IsConflict(err) {
		t.Errorf("commit of a transaction that read a key written by a commit in flight at its start = %v, want a conflict", err)
	}
	m.End(reg)
	if r := m.Begin(func() {}); r.seq != 3 {
		t.Errorf("snapshot begun after every commit was applied is stamped %d, want 3", r.seq)
	} else {
		m.End(r)
	}
	if n := m.LogLen(); n != 0 {
		t.Errorf("log keeps %d records with no transaction live, want 0", n)
	}
}

// TestCommitGroupedError: a failed group fails each of its commits with the
// error, and the watermark still moves past them.
func TestCommitGroupedError(t *testing.T) {
	m := NewManager("test", 0)
	errBoom := errors.New("boom")
	err := m.CommitGrouped(nil, nil, &testItem{"A", "k"}, func([]Item) error { return errBoom })
	if !errors.Is(err, errBoom) {
		t.Fatalf("CommitGrouped = %v, want the apply error", err)
	}
	if r := m.Begin(func() {}); r.seq != 1 {
		t.Errorf("snapshot after a failed commit is stamped %d, want 1", r.seq)
	}
}

// TestCommitGroupedPanic: a group whose apply panics fails its other
// members, re-panics in its leader, and leaves the manager committing:
// a leader that panicked mid-group once wedged every later commit.
func TestCommitGroupedPanic(t *testing.T) {
	m := NewManager("test", 0)
	started := make(chan struct{})
	release := make(chan struct{})
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_ = m.CommitGrouped(nil, nil, &testItem{"A", "k"}, func([]Item) error {
			if !alone(m) {
				t.Error("A, committed with no group in flight, was not applied alone")
			}
			close(started)
			<-release
			panic("boom")
		})
	}()
	await(t, "A's apply", started)
	member := make(chan error, 1)
	go func() {
		member <- m.CommitGrouped(nil, nil, &testItem{"B", "k"}, func([]Item) error { return nil })
	}()
	waitFor(t, "B queued behind A", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.queue) == 1
	})
	close(release)
	if v := await(t, "A's commit", leader); v != "boom" {
		t.Errorf("the leader's CommitGrouped recovered %v, want its apply's panic", v)
	}
	// B was not in A's group (it queued during A's apply), so it leads the
	// next group and commits.
	if err := await(t, "the commit queued behind the panicking group", member); err != nil {
		t.Errorf("the commit queued behind the panicking group: %v", err)
	}
	// A group that panics with members waiting fails them.
	var wg sync.WaitGroup
	started2, release2 := make(chan struct{}), make(chan struct{})
	wg.Go(func() {
		defer func() { _ = recover() }()
		_ = m.CommitGrouped(nil, nil, &testItem{"C", "k"}, func([]Item) error {
			close(started2)
			<-release2
			return nil
		})
	})
	await(t, "C's apply", started2)
	errs := make(chan error, 2)
	for _, name := range []string{"D", "E"} {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					errs <- fmt.Errorf("leader panicked: %v", v)
				}
			}()
			errs <- m.CommitGrouped(nil, nil, &testItem{name, "k"}, func(g []Item) error {
				if alone(m) {
					t.Errorf("%s, queued behind C, was applied alone", name)
				}
				if len(g) == 2 {
					panic("boom2")
				}
				return nil
			})
		})
	}
	waitFor(t, "D and E queued behind C", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.queue) == 2
	})
	close(release2)
	// Bounded: a group that panicked without handing on leaves its
	// members, and every later commit, waiting forever.
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	await(t, "the commits of C, D and E", finished)
	close(errs)
	var got []string
	for err := range errs {
		got = append(got, fmt.Sprint(err))
	}
	if len(got) != 2 || !(strings.Contains(got[0], "panicked") && strings.Contains(got[1], "panicked")) {
		t.Errorf("the group of D and E whose apply panicked: %q, want one leader panic and one member error", got)
	}
	commitsAfter(t, m, "a panicking group")
}

// hangBound bounds the wait for something that must happen: a correct run
// takes microseconds; before the fixes these tests cover, the wait never
// ended.
const hangBound = 10 * time.Second

// await returns what ch delivers, failing the test if nothing comes within
// hangBound (a hang, not a slow run).
func await[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangBound):
		t.Fatalf("%s: hangs", what)
		panic("unreachable")
	}
}

// commitsAfter checks that the manager still commits and begins snapshots.
func commitsAfter(t *testing.T, m *Manager, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- m.CommitGrouped(nil, nil, &testItem{"after", "k"}, func([]Item) error { return nil }) }()
	if err := await(t, "a commit after "+what, done); err != nil {
		t.Errorf("a commit after %s: %v", what, err)
	}
	begun := make(chan *Reg, 1)
	go func() { begun <- m.Begin(func() {}) }()
	m.End(await(t, "a Begin after "+what, begun))
}

// alone reports, from inside applyGroup, whether the group being applied
// is a commit applied alone (CommitGrouped's uncontended path: no queued
// members) rather than a group led by a commit that queued.
func alone(m *Manager) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.members) == 0
}

// TestCommitGroupedGoexit: a group whose apply calls runtime.Goexit fails
// its other members with an error and hands on to the next group; the
// leader's goroutine exits. It once left the leader's members and every
// later commit waiting forever.
func TestCommitGroupedGoexit(t *testing.T) {
	m := NewManager("test", 0)
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- m.CommitGrouped(nil, nil, &testItem{"A", "k"}, func([]Item) error {
			if !alone(m) {
				t.Error("A, committed with no group in flight, was not applied alone")
			}
			close(started)
			<-release
			return nil
		})
	}()
	await(t, "A's apply", started)
	// B and C queue behind A, so they form the next group, led by one of
	// them (the queued path), whose apply calls Goexit.
	type outcome struct {
		name   string
		err    error
		exited bool // the goroutine exited without CommitGrouped returning
	}
	outcomes := make(chan outcome, 2)
	for _, name := range []string{"B", "C"} {
		go func() {
			returned := false
			defer func() {
				if !returned {
					outcomes <- outcome{name: name, exited: true}
				}
			}()
			err := m.CommitGrouped(nil, nil, &testItem{name, "k"}, func(g []Item) error {
				if alone(m) {
					t.Errorf("%s, queued behind A, was applied alone", name)
				}
				if len(g) == 2 {
					runtime.Goexit()
				}
				return nil
			})
			returned = true
			outcomes <- outcome{name: name, err: err}
		}()
	}
	waitFor(t, "B and C queued behind A", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.queue) == 2
	})
	close(release)
	if err := await(t, "A's commit", first); err != nil {
		t.Fatalf("A: %v", err)
	}
	var exited, failed int
	for range 2 {
		o := await(t, "B's and C's commits", outcomes)
		switch {
		case o.exited:
			exited++
		case o.err != nil && strings.Contains(o.err.Error(), "Goexit"):
			failed++
		default:
			t.Errorf("%s: CommitGrouped = %v, want an error naming Goexit", o.name, o.err)
		}
	}
	if exited != 1 || failed != 1 {
		t.Errorf("the group whose apply called Goexit: %d leaders exited, %d members failed; want 1 and 1", exited, failed)
	}
	commitsAfter(t, m, "a Goexit in apply")
}

// panicItem is a testItem whose Size or WriteSet panics.
type panicItem struct {
	testItem
	inSize bool
}

func (it *panicItem) Size() int {
	if it.inSize {
		panic("Size boom")
	}
	return 10
}

func (it *panicItem) WriteSet() *WriteSet {
	if !it.inSize {
		panic("WriteSet boom")
	}
	return it.testItem.WriteSet()
}

// TestCommitGroupedItemPanics: an Item whose Size or WriteSet panics
// panics its own committer's CommitGrouped (never a Begin that builds the
// write set of a commit in flight) and leaves the manager committing: the
// lock was once left held.
func TestCommitGroupedItemPanics(t *testing.T) {
	// recovered runs fn on its own goroutine and returns what it panicked
	// with.
	recovered := func(fn func()) any {
		ch := make(chan any, 1)
		go func() {
			defer func() { ch <- recover() }()
			fn()
		}()
		return await(t, "the panicking call", ch)
	}
	apply := func([]Item) error { return nil }

	t.Run("Size", func(t *testing.T) {
		m := NewManager("test", 0)
		v := recovered(func() { _ = m.CommitGrouped(nil, nil, &panicItem{testItem{"A", "k"}, true}, apply) })
		if v != "Size boom" {
			t.Errorf("CommitGrouped recovered %v, want Size's panic", v)
		}
		commitsAfter(t, m, "a panic in Size")
	})

	t.Run("WriteSet", func(t *testing.T) {
		m := NewManager("test", 0)
		reg := m.Begin(func() {}) // live: the commit's write set is built at once
		v := recovered(func() { _ = m.CommitGrouped(nil, nil, &panicItem{testItem{"A", "k"}, false}, apply) })
		if v != "WriteSet boom" {
			t.Errorf("CommitGrouped recovered %v, want WriteSet's panic", v)
		}
		ended := make(chan struct{})
		go func() { m.End(reg); close(ended) }()
		await(t, "End after a panic in WriteSet", ended)
		commitsAfter(t, m, "a panic in WriteSet")
		if n := m.LogLen(); n != 0 {
			t.Errorf("log keeps %d records after the commits, want 0", n)
		}
	})

	t.Run("WriteSetQueued", func(t *testing.T) {
		// The same, for a commit that would queue behind a group in flight.
		m := NewManager("test", 0)
		release, first := groupInFlight(m)
		reg := m.Begin(func() {})
		v := recovered(func() { _ = m.CommitGrouped(nil, nil, &panicItem{testItem{"B", "k"}, false}, apply) })
		if v != "WriteSet boom" {
			t.Errorf("CommitGrouped recovered %v, want WriteSet's panic", v)
		}
		close(release)
		if err := await(t, "the commit in flight", first); err != nil {
			t.Errorf("the commit in flight: %v", err)
		}
		ended := make(chan struct{})
		go func() { m.End(reg); close(ended) }()
		await(t, "End after a panic in WriteSet", ended)
		commitsAfter(t, m, "a panic in a queued commit's WriteSet")
	})

	t.Run("WriteSetInFlight", func(t *testing.T) {
		// A commit in flight with no snapshot before it: a Begin now
		// builds its write set, which panics. The panic must not escape
		// into Begin (it once did, into every Begin until the group was
		// finished): Begin registers, a transaction it began conflicts
		// with the commit whatever it read, and the panic reaches the
		// commit's own caller once its group is finished.
		m := NewManager("test", 0)
		started, release := make(chan struct{}), make(chan struct{})
		first := make(chan any, 1)
		go func() {
			defer func() { first <- recover() }()
			_ = m.CommitGrouped(nil, nil, &panicItem{testItem{"A", "k"}, false}, func([]Item) error {
				close(started)
				<-release
				return nil
			})
		}()
		<-started
		var regs []*Reg
		for range 2 { // the second Begin finds the record built
			if v := recovered(func() { regs = append(regs, m.Begin(func() {})) }); v != nil {
				t.Fatalf("Begin panicked with %v", v)
			}
		}
		m.mu.Lock()
		live := m.live.Len()
		m.mu.Unlock()
		if live != 2 {
			t.Errorf("%d transactions registered, want 2", live)
		}
		close(release)
		if v := await(t, "the commit in flight", first); v != "WriteSet boom" {
			t.Errorf("the commit in flight recovered %v, want its WriteSet's panic", v)
		}
		// What A wrote is unknown: a read of any key conflicts; reading
		// nothing does not.
		var rs ReadSet
		rs.OnlyPoint([]byte("z"))
		if err := m.CommitGrouped(regs[0], &rs, &testItem{"R", "y"}, apply); !IsConflict(err) {
			t.Errorf("a transaction begun while A was in flight, reading another key: %v, want a conflict", err)
		}
		if err := m.CommitGrouped(regs[1], nil, &testItem{"R", "y"}, apply); err != nil {
			t.Errorf("a transaction begun while A was in flight, reading nothing: %v", err)
		}
		for _, r := range regs {
			m.End(r)
		}
		commitsAfter(t, m, "a panic in a commit's WriteSet built by Begin")
		if m.srcPanics != nil || m.LogLen() != 0 {
			t.Errorf("srcPanics %v, log of %d records after the commits, want nil, 0", m.srcPanics, m.LogLen())
		}
	})

	t.Run("WriteSetInFlightQueued", func(t *testing.T) {
		// The same for commits queued behind a group in flight: B leads
		// the next group, C is its member; both WriteSets panic in a
		// Begin. Each panic reaches its own committer only, and D, in
		// their group, commits.
		m := NewManager("test", 0)
		release, first := groupInFlight(m)
		got := make(chan string, 3)
		for i, name := range []string{"B", "C", "D"} {
			var it Item = &panicItem{testItem{name, "k"}, false}
			if name == "D" {
				it = &testItem{name, "k"}
			}
			go func() {
				defer func() {
					if v := recover(); v != nil {
						got <- fmt.Sprintf("%s panicked: %v", name, v)
					}
				}()
				err := m.CommitGrouped(nil, nil, it, apply)
				got <- fmt.Sprintf("%s returned %v", name, err)
			}()
			waitFor(t, name+" queued behind A", func() bool {
				m.mu.Lock()
				defer m.mu.Unlock()
				return len(m.queue) == i+1
			})
		}
		var reg *Reg
		if v := recovered(func() { reg = m.Begin(func() {}) }); v != nil {
			t.Fatalf("Begin panicked with %v", v)
		}
		close(release)
		if err := await(t, "the commit in flight", first); err != nil {
			t.Errorf("the commit in flight: %v", err)
		}
		var outcomes []string
		for range 3 {
			outcomes = append(outcomes, await(t, "a queued commit", got))
		}
		slices.Sort(outcomes)
		want := []string{"B panicked: WriteSet boom", "C panicked: WriteSet boom", "D returned <nil>"}
		if !slices.Equal(outcomes, want) {
			t.Errorf("queued commits: %q, want %q", outcomes, want)
		}
		m.End(reg)
		commitsAfter(t, m, "panics in queued commits' WriteSets built by Begin")
		if m.srcPanics != nil || m.LogLen() != 0 {
			t.Errorf("srcPanics %v, log of %d records after the commits, want nil, 0", m.srcPanics, m.LogLen())
		}
	})
}

// TestCommitGroupedAloneExits: a commit applied alone (no group in flight
// as it was sequenced, so no queued place) whose apply panics or calls
// runtime.Goexit still hands on: to the commits that queued behind it, and
// to later ones.
func TestCommitGroupedAloneExits(t *testing.T) {
	t.Run("Panic", func(t *testing.T) {
		m := NewManager("test", 0)
		ch := make(chan any, 1)
		go func() {
			defer func() { ch <- recover() }()
			_ = m.CommitGrouped(nil, nil, &testItem{"A", "k"}, func([]Item) error {
				if !alone(m) {
					t.Error("A was not applied alone")
				}
				panic("boom")
			})
		}()
		if v := await(t, "the panicking commit", ch); v != "boom" {
			t.Errorf("CommitGrouped recovered %v, want its apply's panic", v)
		}
		commitsAfter(t, m, "a panic in a commit applied alone")
	})

	t.Run("Goexit", func(t *testing.T) {
		m := NewManager("test", 0)
		exited := make(chan bool, 1)
		go func() {
			returned := false
			defer func() { exited <- !returned }()
			_ = m.CommitGrouped(nil, nil, &testItem{"A", "k"}, func([]Item) error {
				if !alone(m) {
					t.Error("A was not applied alone")
				}
				runtime.Goexit()
				return nil
			})
			returned = true
		}()
		if !await(t, "the commit whose apply calls Goexit", exited) {
			t.Error("CommitGrouped returned from an apply that called Goexit")
		}
		commitsAfter(t, m, "a Goexit in a commit applied alone")
	})

	t.Run("GoexitWithQueue", func(t *testing.T) {
		// B and C queue while A, alone, is being applied; A's apply then
		// calls Goexit. They are not A's group: they must lead the next
		// one and commit.
		m := NewManager("test", 0)
		started, release := make(chan struct{}), make(chan struct{})
		go func() {
			_ = m.CommitGrouped(nil, nil, &testItem{"A", "k"}, func([]Item) error {
				if !alone(m) {
					t.Error("A was not applied alone")
				}
				close(started)
				<-release
				runtime.Goexit()
				return nil
			})
		}()
		<-started
		errs := make(chan error, 2)
		for _, name := range []string{"B", "C"} {
			go func() {
				errs <- m.CommitGrouped(nil, nil, &testItem{name, "k"}, func(g []Item) error {
					if alone(m) {
						t.Errorf("%s, queued behind A, was applied alone", name)
					}
					return nil
				})
			}()
		}
		waitFor(t, "B and C queued behind A", func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return len(m.queue) == 2
		})
		close(release)
		for range 2 {
			if err := await(t, "a commit queued behind A", errs); err != nil {
				t.Errorf("a commit queued behind A: %v", err)
			}
		}
		commitsAfter(t, m, "a Goexit in a commit applied alone with commits queued")
	})
}

// TestConflictCarriesDuration: a failed validation's error is a conflict
// (kv.ErrConflict, IsConflict) that says how long the transaction ran from
// its registration, which Update's backoff starts from instead of reading
// the clock around each attempt.
func TestConflictCarriesDuration(t *testing.T) {
	m := NewManager("test", time.Hour)
	apply := func([]Item) error { return nil }
	reg := m.Begin(nil)
	reg.start -= int64(time.Minute) // registered a minute ago, by its clock
	if err := m.CommitGrouped(nil, nil, &testItem{"W", "k"}, apply); err != nil {
		t.Fatal(err)
	}
	var rs ReadSet
	rs.OnlyPoint([]byte("k"))
	err := m.CommitGrouped(reg, &rs, &testItem{"R", "z"}, apply)
	m.End(reg)
	if !IsConflict(err) || !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("commit after a write of its read key: %v, want a conflict", err)
	}
	var ce *conflictError
	if !errors.As(err, &ce) || ce.ran < time.Minute || ce.ran > time.Hour {
		t.Fatalf("conflict %#v, want one saying the transaction ran about a minute", err)
	}
}

// groupInFlight starts committing A (key "k") on m and returns once its
// apply has started: the group stays in flight until release is closed,
// and first then receives A's result.
func groupInFlight(m *Manager) (release chan struct{}, first chan error) {
	started := make(chan struct{})
	release, first = make(chan struct{}), make(chan error, 1)
	go func() {
		first <- m.CommitGrouped(nil, nil, &testItem{"A", "k"}, func([]Item) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	return release, first
}

// incItem is a commit of TestCommitGroupedMany: it sets key to val, or,
// if fail, makes its whole group fail.
type incItem struct {
	id   int
	key  string
	val  int
	fail bool
	// sequenced records the order of sequencing: WriteSet runs under
	// the commit lock as the commit is sequenced, as a transaction is
	// always live in the test.
	sequenced *[]int
}

func (it *incItem) WriteSet() *WriteSet {
	*it.sequenced = append(*it.sequenced, it.id)
	return &WriteSet{Points: [][]byte{[]byte(it.key)}}
}
func (it *incItem) Size() int { return 16 }

// TestCommitGroupedMany: many goroutines increment a few counters through
// CommitGrouped (each a transaction that reads its counter at a snapshot
// and writes it plus one, retried on conflict), with blind writes mixed
// in, and an apply that records the order it applies commits in and fails
// some groups as a whole. The engine's order must be the sequence order
// exactly, every committer must get its own group's result (and be woken
// at all: a lost wake hangs the test), and no increment may be lost.
func TestCommitGroupedMany(t *testing.T) {
	const (
		workers = 8
		perW    = 400
		keys    = 12
	)
	m := NewManager("test", 0)
	// A transaction live throughout, so that every commit's write set is
	// built as it is sequenced (recording the sequence order).
	holder := m.Begin(func() {})

	var sequenced []int // under m.mu, as WriteSet is called
	var mu sync.Mutex   // the "engine": after m.mu when both are held
	state := map[string]int{}
	var applied []int
	groupOf := map[int]int{}     // commit id -> the group it was applied in
	groupErr := map[int]string{} // group -> its result
	groups := 0
	applyGroup := func(g []Item) error {
		mu.Lock()
		defer mu.Unlock()
		groups++
		var err error
		for _, it := range g {
			it := it.(*incItem)
			applied = append(applied, it.id)
			groupOf[it.id] = groups
			if it.fail {
				err = fmt.Errorf("group %d failed", groups)
			}
		}
		if err == nil {
			for _, it := range g {
				it := it.(*incItem)
				state[it.key] = it.val
			}
			groupErr[groups] = "<nil>"
		} else {
			groupErr[groups] = err.Error()
		}
		if groups%3 == 0 {
			runtime.Gosched() // let commits queue behind this group
		}
		return err
	}

	type result struct {
		id  int
		err string
		inc string // the key incremented, if the commit was one and succeeded
	}
	results := make(chan result, workers*perW)
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perW {
				id := w*perW + i
				key := fmt.Sprintf("k%d", id%keys)
				it := &incItem{id: id, key: key, fail: id%11 == 5, sequenced: &sequenced}
				if id%5 == 0 {
					// A blind write: sets the counter's own value again
					// (not validated, but logged).
					var v int
					reg := m.Begin(func() {
						mu.Lock()
						v = state[key]
						mu.Unlock()
					})
					m.End(reg)
					it.key = "blind" + key
					it.val = v
					err := m.CommitGrouped(nil, nil, it, applyGroup)
					results <- result{id: id, err: fmt.Sprint(err)}
					continue
				}
				for {
					var v int
					reg := m.Begin(func() {
						mu.Lock()
						v = state[key]
						mu.Unlock()
					})
					var rs ReadSet
					rs.OnlyPoint([]byte(key))
					it.val = v + 1
					err := m.CommitGrouped(reg, &rs, it, applyGroup)
					m.End(reg)
					if IsConflict(err) {
						conflicts.Add(1)
						runtime.Gosched() // as Update backs off
						continue
					}
					r := result{id: id, err: fmt.Sprint(err)}
					if err == nil {
						r.inc = key
					}
					results <- r
					break
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	await(t, "every commit", done)
	close(results)
	m.End(holder)

	incs := map[string]int{}
	n := 0
	for r := range results {
		n++
		if want := groupErr[groupOf[r.id]]; r.err != want {
			t.Errorf("commit %d returned %s; its group %d's apply returned %s", r.id, r.err, groupOf[r.id], want)
		}
		if r.inc != "" {
			incs[r.inc]++
		}
	}
	if n != workers*perW {
		t.Errorf("%d results, want %d", n, workers*perW)
	}
	if !slices.Equal(applied, sequenced) {
		i := 0
		for i < min(len(applied), len(sequenced)) && applied[i] == sequenced[i] {
			i++
		}
		t.Errorf("the engine applied %d commits in an order other than the %d sequenced: first difference at %d", len(applied), len(sequenced), i)
	}
	for k := range keys {
		key := fmt.Sprintf("k%d", k)
		if state[key] != incs[key] {
			t.Errorf("counter %s = %d after %d successful increments", key, state[key], incs[key])
		}
	}
	if len(applied) > groups {
		t.Logf("%d commits in %d groups, %d conflicts", len(applied), groups, conflicts.Load())
	} else {
		t.Errorf("%d commits in %d groups: no group of more than one commit formed, so the test checked no grouping", len(applied), groups)
	}
	if n := m.LogLen(); n != 0 {
		t.Errorf("log keeps %d records with no transaction live, want 0", n)
	}
}

// TestLogIndex checks that logIndex, which finds a sequence number's
// record by its distance from the log's first when the sequence numbers
// are consecutive (CommitGrouped's log), finds the first record at or after
// it as a search would in any log: consecutive, with gaps (Commit logs a
// commit only when a transaction is live), empty, and for numbers before,
// inside and after the log.
func TestLogIndex(t *testing.T) {
	for _, seqs := range [][]uint64{nil, {1}, {1, 2, 3, 4}, {10, 11, 12}, {1, 3, 4, 5}, {2, 3, 7, 8, 9}, {5, 9}} {
		m := NewManager("test", 0)
		for _, s := range seqs {
			m.log = append(m.log, record{seq: s})
		}
		for seq := uint64(0); seq <= 13; seq++ {
			want := len(seqs)
			for i, s := range seqs {
				if s >= seq {
					want = i
					break
				}
			}
			if got := m.logIndex(seq); got != want {
				t.Errorf("log %v: logIndex(%d): got %d, want %d", seqs, seq, got, want)
			}
		}
	}
}
