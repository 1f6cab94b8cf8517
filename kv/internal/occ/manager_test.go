package occ

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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
			close(started)
			<-release
			panic("boom")
		})
	}()
	<-started
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
	if v := <-leader; v != "boom" {
		t.Errorf("the leader's CommitGrouped recovered %v, want its apply's panic", v)
	}
	// B was not in A's group (it queued during A's apply), so it leads the
	// next group and commits.
	if err := <-member; err != nil {
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
	<-started2
	errs := make(chan error, 2)
	for _, name := range []string{"D", "E"} {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					errs <- fmt.Errorf("leader panicked: %v", v)
				}
			}()
			errs <- m.CommitGrouped(nil, nil, &testItem{name, "k"}, func(g []Item) error {
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
	wg.Wait()
	close(errs)
	var got []string
	for err := range errs {
		got = append(got, fmt.Sprint(err))
	}
	if len(got) != 2 || !(strings.Contains(got[0], "panicked") && strings.Contains(got[1], "panicked")) {
		t.Errorf("the group of D and E whose apply panicked: %q, want one leader panic and one member error", got)
	}
	done := make(chan error, 1)
	go func() { done <- m.CommitGrouped(nil, nil, &testItem{"F", "k"}, func([]Item) error { return nil }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("a commit after the panics: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a commit after a panicking group hangs")
	}
}
