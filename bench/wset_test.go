package bench

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/protoql/protoql/examples/social/socialpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// testWorkingSet is the working set (keys) of the tests of the growth curve
// at a fixed working set.
const testWorkingSet = 1000

// TestLoadWorkingSet checks that LoadWorkingSet writes byte for byte what
// protoql's Put of the same users writes, and that those users are w/n
// users of n entries each, all distinct, read back whole by protoql's
// typed Get; and that the point of size w is the growth curve's user.
func TestLoadWorkingSet(t *testing.T) {
	ctx := context.Background()
	const w = testWorkingSet
	sizes := []int{10, 100, 300, w}
	loaded, put := openTestEnv(t), openTestEnv(t)
	if err := loaded.LoadWorkingSet(w, sizes); err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, n := range sizes {
		for u := range w / n {
			if err := put.Protoql.Insert(ctx, WorkingSetUser(w, n, u)); err != nil {
				t.Fatal(err)
			}
			users++
			got, err := loaded.Protoql.Get(ctx, WorkingSetID(w, n, u))
			if err != nil {
				t.Fatalf("size %d, user %d: %v", n, u, err)
			}
			if got.UserId != WorkingSetID(w, n, u) || len(got.Sessions) != n {
				t.Errorf("size %d, user %d: protoql reads %q with %d sessions, want %q with %d", n, u, got.UserId, len(got.Sessions), WorkingSetID(w, n, u), n)
			}
		}
		if _, err := loaded.Protoql.Get(ctx, WorkingSetID(w, n, w/n)); n < w && err != ErrNotFound {
			t.Errorf("size %d: user %d (one past w/n) read with error %v, want ErrNotFound", n, w/n, err)
		}
	}
	got, want := dump(t, loaded.kv.DB(), tablePrefix, tableEnd), dump(t, put.kv.DB(), tablePrefix, tableEnd)
	if !slices.Equal(got, want) {
		t.Errorf("LoadWorkingSet wrote %d pairs, protoql's Put of the same users %d; first difference:\n%s", len(got), len(want), firstDiff(got, want))
	}
	names := 0
	if err := loaded.Protoql.ScanNames(ctx, func(string, string) { names++ }); err != nil {
		t.Fatal(err)
	}
	if names != users {
		t.Errorf("protoql scans %d users, want %d (w/n for each size)", names, users)
	}
	if id := WorkingSetID(w, w, 0); id != GrowthID(w) {
		t.Errorf("WorkingSetID(%d, %d, 0) = %q, want the growth user %q", w, w, id, GrowthID(w))
	}
	if u := WorkingSetUser(w, w, 0); !proto.Equal(u, NewUser(GrowthID(w), w, w)) {
		t.Errorf("the working set's user of size %d is not the growth curve's user", w)
	}
}

// firstDiff describes the first pair where got and want differ.
func firstDiff(got, want []pair) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return "got  " + quote(got[i]) + "\nwant " + quote(want[i])
		}
	}
	if len(got) > len(want) {
		return "extra " + quote(got[len(want)])
	}
	if len(want) > len(got) {
		return "missing " + quote(want[len(got)])
	}
	return "none"
}

func quote(p pair) string { return strconv.Quote(p.k) + " = " + strconv.Quote(p.v) }

// TestWorkingSetOpSpreads runs k operations of each column of the growth
// curve at a fixed working set on the point of size 10 (w/10 users of 10
// entries) and reads every user back with protoql's typed Get: the
// updated entries belong to more than one user, each carries the value of
// the last operation that drew it (raw-merge: in its own users, which
// protoql reads too, leaving the loaded users as they were), and every
// other entry is as loaded.
func TestWorkingSetOpSpreads(t *testing.T) {
	ctx := context.Background()
	const w, n, k, first = testWorkingSet, 10, 300, 5000
	for _, name := range []string{"protoql", "protoql-put", "raw", "raw-merge"} {
		t.Run(name, func(t *testing.T) {
			e := openTestEnv(t)
			if err := e.LoadWorkingSet(w, []int{n}); err != nil {
				t.Fatal(err)
			}
			var c Column
			for _, col := range e.WorkingSetColumns() {
				if col.Name == name {
					c = col
				}
			}
			if c.Impl == nil {
				t.Fatalf("no working-set column %s", name)
			}
			op := WorkingSetOp(c, w, n)
			for i := first; i < first+k; i++ {
				if err := op(ctx, i); err != nil {
					t.Fatal(err)
				}
			}
			merge := c.Variant == "merge"
			// The values the operations wrote: the last one of each entry.
			wrote := map[[2]int]int64{}
			for i := first; i < first+k; i++ {
				u, j := workingSetKey(w, n, i)
				wrote[[2]int{u, j}] = expiryMicros + int64(i)
			}
			changed := map[int]bool{}
			for u := range w / n {
				loaded := WorkingSetUser(w, n, u)
				want := proto.Clone(loaded).(*socialpb.User)
				mergeWant := &socialpb.User{UserId: WorkingSetMergeID(w, n, u), Sessions: map[string]*socialpb.Session{}}
				for j := range n {
					v, ok := wrote[[2]int{u, j}]
					if !ok {
						continue
					}
					if merge {
						mergeWant.Sessions[SessionID(j)] = &socialpb.Session{ExpiresUs: v}
					} else {
						want.Sessions[SessionID(j)].ExpiresUs = v
					}
				}
				got, err := e.Protoql.Get(ctx, want.UserId)
				if err != nil {
					t.Fatalf("user %d: %v", u, err)
				}
				if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
					t.Errorf("user %d (-want +got):\n%s", u, d)
				}
				if merge {
					got, err = e.Protoql.Get(ctx, mergeWant.UserId)
					if len(mergeWant.Sessions) == 0 {
						if err != ErrNotFound {
							t.Errorf("merge user %d, never drawn: read with error %v, want ErrNotFound", u, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("merge user %d: %v", u, err)
					}
					if d := cmp.Diff(mergeWant, got, protocmp.Transform()); d != "" {
						t.Errorf("merge user %d (-want +got):\n%s", u, d)
					}
				}
				if !proto.Equal(got, loaded) {
					changed[u] = true
				}
			}
			if len(changed) <= 1 {
				t.Errorf("%d operations changed the entries of %d users, want more than one", k, len(changed))
			}
		})
	}
}

// TestWorkingSetIDs checks the working-set ids at the default growth sizes:
// as long as the growth curve's (so that every point writes keys of one
// length), in the order of u within a size, and distinct across sizes and
// from the merge users'.
func TestWorkingSetIDs(t *testing.T) {
	w := slices.Max(DefaultGrowthSizes)
	seen := map[string]bool{}
	for _, n := range DefaultGrowthSizes {
		us := []int{0, 1, 9, 10, WorkingSetUsers(w, n) / 2, WorkingSetUsers(w, n) - 1}
		slices.Sort(us)
		prev := ""
		for _, u := range slices.Compact(us) {
			if u >= WorkingSetUsers(w, n) {
				continue
			}
			id, mid := WorkingSetID(w, n, u), WorkingSetMergeID(w, n, u)
			if len(id) != len(GrowthID(w)) || len(mid) != len(GrowthMergeID(w)) {
				t.Errorf("size %d, user %d: ids %q and %q, want %d and %d bytes long", n, u, id, mid, len(GrowthID(w)), len(GrowthMergeID(w)))
			}
			if id <= prev {
				t.Errorf("size %d: user %d's id %q sorts before %q", n, u, id, prev)
			}
			if seen[id] || seen[mid] || id == mid {
				t.Errorf("size %d, user %d: id %q or %q taken", n, u, id, mid)
			}
			prev = id
			seen[id], seen[mid] = true, true
		}
	}
}

// TestWorkingSetKeyDraw checks that the operations of a point of the
// growth curve at a fixed working set spread over all of its
// WorkingSetUsers(w, n) × n keys and none besides, none drawn more than
// three times as often as the mean (TestWorkingSetOpSpreads reads its
// expectations from workingSetKey itself, so a draw that always picked
// one entry of each user would pass it and leave a working set of W/n
// keys), and that the point of size w draws as GrowthOp does.
func TestWorkingSetKeyDraw(t *testing.T) {
	const w, perKey = testWorkingSet, 20
	for _, n := range []int{1, 10, 300, w} {
		users := WorkingSetUsers(w, n)
		drawn := make([]int, users*n)
		for i := range perKey * len(drawn) {
			u, j := workingSetKey(w, n, i)
			if u < 0 || u >= users || j < 0 || j >= n {
				t.Fatalf("size %d, operation %d: user %d, entry %d, want a user below %d and an entry below %d", n, i, u, j, users, n)
			}
			if n == w && j != int(mix(i)%uint64(w)) {
				t.Fatalf("size %d, operation %d: entry %d, want GrowthOp's %d", n, i, j, mix(i)%uint64(w))
			}
			drawn[u*n+j]++
		}
		bad := 0
		for k, c := range drawn {
			if c == 0 || c > 3*perKey {
				if bad == 0 {
					t.Errorf("size %d: user %d, entry %d drawn %d times in %d operations, want 1 to %d", n, k/n, k%n, c, perKey*len(drawn), 3*perKey)
				}
				bad++
			}
		}
		if bad > 1 {
			t.Errorf("size %d: %d of %d keys drawn out of that range", n, bad, len(drawn))
		}
	}
}
