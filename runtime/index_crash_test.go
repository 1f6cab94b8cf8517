package runtime_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/protoql/protoql/internal/runtimetest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// killChildEnv names, in the environment of the re-executed test binary,
// the Pebble directory its child writes to and where each writer starts.
const killChildEnv = "PROTOQL_INDEX_KILL_CHILD"

// killWriters is how many goroutines of the child write at once, each to
// rows of its own.
const killWriters = 2

// TestIndexKill crashes a process for real during indexed writes: a child
// (this test binary, re-executed) writes through every write kind on a
// Pebble store with the default durability, printing each write once it is
// acknowledged; after a number of acknowledgements the test kills it with
// SIGKILL, reopens the directory and checks that every acknowledged write
// is there and that the index entries are exactly those of the rows. Several
// rounds run on the same directory, each check covering every round so far.
func TestIndexKill(t *testing.T) {
	if v := os.Getenv(killChildEnv); v != "" {
		indexKillChild(t, v)
		return
	}
	switch goruntime.GOOS {
	case "windows", "plan9", "js", "wasip1":
		t.Skipf("no SIGKILL on %s", goruntime.GOOS)
	}
	t.Parallel()
	dir := t.TempDir()
	acked := map[killWrite]bool{}
	next := make([]int, killWriters)
	for w := range next {
		next[w] = 1
	}
	rounds, perRound := 3, 150
	if testing.Short() {
		rounds, perRound = 2, 40
	}
	for round := range rounds {
		last := killRound(t, dir, next, perRound)
		for w := range killWriters {
			for i := next[w]; i <= last[w]; i++ {
				acked[killWrite{w, i}] = true
			}
			// The write after the last acknowledged one may or may not
			// have landed; the next round starts after it.
			next[w] = last[w] + 2
		}
		s, err := pebblekv.Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopening after the kill: %v", round, err)
		}
		db, err := runtime.Open(context.Background(), s, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		checkAcked(t, db, acked)
		rows, entries := runtimetest.IndexInStep(t, db)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %v acknowledged writes; %d rows and %d index entries in step", round, last, rows, entries)
		if t.Failed() {
			t.FailNow()
		}
	}
}

// killWrite is the i-th write of writer w.
type killWrite struct{ w, i int }

// killRound runs the child on dir, its writers starting at next, until it
// has acknowledged n writes, kills it, and returns each writer's last
// acknowledged write.
func killRound(t *testing.T, dir string, next []int, n int) []int {
	t.Helper()
	starts := make([]string, len(next))
	for w, i := range next {
		starts[w] = strconv.Itoa(i)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIndexKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir+":"+strings.Join(starts, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A child that stops writing would block the read below: kill it at a
	// deadline, which ends its output.
	var once sync.Once
	kill := func() { once.Do(func() { _ = cmd.Process.Kill() }) }
	watchdog := time.AfterFunc(2*time.Minute, func() {
		t.Errorf("the child acknowledged fewer than %d writes in 2 minutes", n)
		kill()
	})
	defer watchdog.Stop()
	last := make([]int, len(next))
	for w := range last {
		last[w] = next[w] - 1
	}
	got := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var w, i int
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &w, &i); err != nil {
			continue // the test framework's own output
		}
		if w < 0 || w >= len(last) || i != last[w]+1 {
			t.Fatalf("child acknowledged write %d of writer %d after %v", i, w, last)
		}
		last[w] = i
		if got++; got == n {
			kill() // SIGKILL; what it printed before dying is still read
		}
	}
	err = cmd.Wait()
	if got < n {
		t.Fatalf("the child stopped after %d acknowledged writes: %v", got, err)
	}
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.Success() {
		t.Fatalf("the child was not killed: %v", err)
	}
	return last
}

// The write kinds, by i % len(killKinds). A kind marked prev acts on the
// row of the writer's previous write.
var killKinds = []struct {
	name string
	prev bool
}{
	{"put row", false}, {"update inline", false}, {"set email", false}, {"set last_seen_us (breakout)", false},
	{"put task", false}, {"update task inline", false}, {"delete task", true}, {"put drawer item", false},
	{"delete row", true}, {"transaction: put row and task", false}, {"delete rows by prefix", true},
}

func killKey(w, i int) testpb.AccountKey {
	return testpb.AccountKey{Org: fmt.Sprintf("w%d-%07d", w, i), AccountId: 1}
}

func killAccount(w, i int) *testpb.Account {
	k := killKey(w, i)
	return &testpb.Account{Org: k.Org, AccountId: k.AccountId, Email: proto.String(fmt.Sprintf("e%d-%d", w, i)),
		Age: int32(i % 50), Name: "n", Tags: []string{"t" + strconv.Itoa(i%3), "all"}, State: testpb.AccountState(i % 3),
		LastSeenUs: int64(i), Tasks: map[string]*testpb.Task{"k": killTask(w, i)},
		Drawer: &testpb.Drawer{Items: map[uint64]*testpb.Task{uint64(i): killTask(w, i)}}}
}

func killTask(w, i int) *testpb.Task {
	return &testpb.Task{Text: "t", Done: i%2 == 0, Priority: uint32(i % 3), Slug: proto.String(fmt.Sprintf("s%d-%d", w, i)), Labels: []int64{int64(i % 4)}}
}

// killDo performs write i of writer w.
func killDo(ctx context.Context, db *runtime.DB, acc testpb.AccountTable, w, i int) error {
	k, prev := killKey(w, i), killKey(w, i-1)
	switch i % len(killKinds) {
	case 0:
		return acc.Put(ctx, killAccount(w, i))
	case 1:
		return acc.UpdateInline(ctx, k, func(a *testpb.Account) error {
			a.Email, a.Age, a.Tags = proto.String(fmt.Sprintf("e%d-%d", w, i)), int32(i%50), []string{"u"}
			return nil
		})
	case 2:
		return acc.Row(k).Email().Set(ctx, fmt.Sprintf("e%d-%d", w, i))
	case 3:
		return acc.Row(k).LastSeenUs().Set(ctx, int64(i))
	case 4:
		return acc.Row(k).Tasks().Put(ctx, "k", killTask(w, i))
	case 5:
		return acc.Row(k).Tasks().Entry("k").UpdateInline(ctx, func(t *testpb.Task) error {
			t.Done, t.Slug = true, proto.String(fmt.Sprintf("s%d-%d", w, i))
			return nil
		})
	case 6:
		return acc.Row(prev).Tasks().Delete(ctx, "k")
	case 7:
		return acc.Row(k).Drawer().Items().Put(ctx, uint64(i), killTask(w, i))
	case 8:
		return acc.Delete(ctx, prev)
	case 9:
		return db.Update(ctx, func(tx *runtime.Tx) error {
			a := killAccount(w, i)
			a.Tasks = nil
			if err := acc.In(tx).Put(ctx, a); err != nil {
				return err
			}
			return acc.In(tx).Row(k).Tasks().Put(ctx, "k", killTask(w, i))
		})
	default:
		return acc.DeleteRows(ctx, testpb.AccountKeys().Org(prev.Org))
	}
}

// killCheck reports what is wrong with the row of write i of writer w,
// given that the write after it was applied (next) or not.
func killCheck(ctx context.Context, acc testpb.AccountTable, w, i int, next bool) error {
	a, err := acc.Get(ctx, killKey(w, i))
	if err != nil && !errors.Is(err, kv.ErrNotFound) && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	kind := i % len(killKinds)
	if next {
		switch (i + 1) % len(killKinds) {
		case 8, 10:
			if a != nil {
				return fmt.Errorf("the row is there after it was deleted: %v", a)
			}
			return nil
		case 6:
			if _, ok := a.GetTasks()["k"]; ok {
				return fmt.Errorf("task k is there after it was deleted: %v", a)
			}
			return nil
		}
	}
	if killKinds[kind].prev {
		if a != nil {
			return fmt.Errorf("a row nothing wrote: %v", a)
		}
		return nil
	}
	if a == nil {
		return fmt.Errorf("the row is missing")
	}
	email := fmt.Sprintf("e%d-%d", w, i)
	var ok bool
	switch kind {
	case 0, 9:
		ok = proto.Equal(a, killAccount(w, i))
	case 1:
		ok = a.GetEmail() == email && a.Age == int32(i%50) && len(a.Tags) == 1 && a.Tags[0] == "u"
	case 2:
		ok = a.GetEmail() == email
	case 3:
		ok = a.LastSeenUs == int64(i)
	case 4:
		ok = proto.Equal(a.Tasks["k"], killTask(w, i))
	case 5:
		ok = a.Tasks["k"].GetDone() && a.Tasks["k"].GetSlug() == fmt.Sprintf("s%d-%d", w, i)
	case 7:
		ok = proto.Equal(a.GetDrawer().GetItems()[uint64(i)], killTask(w, i))
	}
	if !ok {
		return fmt.Errorf("the row does not show the write: %v", a)
	}
	return nil
}

// checkAcked checks every acknowledged write. The write after the last
// acknowledged one of a round may have landed or not: both are accepted.
func checkAcked(t *testing.T, db *runtime.DB, acked map[killWrite]bool) {
	t.Helper()
	ctx := context.Background()
	acc, err := testpb.NewAccountTable(db)
	if err != nil {
		t.Fatal(err)
	}
	for wr := range acked {
		err := killCheck(ctx, acc, wr.w, wr.i, acked[killWrite{wr.w, wr.i + 1}])
		if err != nil && !acked[killWrite{wr.w, wr.i + 1}] {
			if errNext := killCheck(ctx, acc, wr.w, wr.i, true); errNext == nil {
				err = nil // the unacknowledged next write landed
			}
		}
		if err != nil {
			t.Errorf("acknowledged write %d of writer %d (%s): %v", wr.i, wr.w, killKinds[wr.i%len(killKinds)].name, err)
		}
	}
}

// indexKillChild is the child of TestIndexKill: arg is "DIR:START0,START1";
// it writes until it is killed, printing "ack W I" after each write.
func indexKillChild(t *testing.T, arg string) {
	dir, starts, _ := strings.Cut(arg, ":")
	ctx := context.Background()
	s, err := pebblekv.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := runtime.Open(ctx, s, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := testpb.NewAccountTable(db)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // one line at a time on stdout
	var wg sync.WaitGroup
	for w, start := range strings.Split(starts, ",") {
		first, err := strconv.Atoi(start)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			// Bounded, should the parent never kill it.
			for i := first; i < first+100000; i++ {
				if err := killDo(ctx, db, acc, w, i); err != nil {
					t.Errorf("writer %d, write %d (%s): %v", w, i, killKinds[i%len(killKinds)].name, err)
					return
				}
				mu.Lock()
				_, err := fmt.Fprintf(os.Stdout, "ack %d %d\n", w, i)
				mu.Unlock()
				if err != nil {
					return // the parent is gone
				}
			}
		})
	}
	wg.Wait()
}
