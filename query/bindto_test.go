package query_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/protoql/protoql/query"
)

// TestBindToMatchesBind binds random variables with BindTo into one Bound
// reused from query to query, and with Bind, and requires the same result:
// the same error, or every access bound to the same keys and page. What an
// earlier binding left in the reused Bound must not show, and no bound may
// share bytes that an append to another overwrites.
func TestBindToMatchesBind(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	str := func() any {
		const alphabet = "ab\x00\x01\xfe\xff"
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	cases := []struct {
		text    string
		vars    func() map[string]any
		indexed bool // of indexedCatalog
	}{
		{`User[$id] { sessions(first: 10) { expires_us } }`, func() map[string]any { return map[string]any{"id": str()} }, false},
		{`User[$id] { sessions[$a..$b](reverse: $r) { expires_us } }`, func() map[string]any {
			return map[string]any{"id": str(), "a": str(), "b": str(), "r": rng.IntN(2) == 0}
		}, false},
		{`User[$lo..$hi](first: $n, reverse: $r) { user_id }`, func() map[string]any {
			return map[string]any{"lo": str(), "hi": str(), "n": rng.IntN(5), "r": rng.IntN(2) == 0}
		}, false},
		{`Series[$m, $s]`, func() map[string]any {
			return map[string]any{"m": str(), "s": rng.Int64N(1<<33) - 1<<31}
		}, false},
		{`Inbox[$o, $f] { subject }`, func() map[string]any {
			return map[string]any{"o": str(), "f": []any{"FOLDER_INBOX", "FOLDER_NOPE", 1, 99999999999}[rng.IntN(4)]}
		}, false},
		{`Account.by_email[$e] { name }`, func() map[string]any { return map[string]any{"e": str()} }, true},
		{`Account.by_age[$a, $lo..$hi](first: $n, reverse: $r) { name }`, func() map[string]any {
			return map[string]any{"a": rng.IntN(100), "lo": str(), "hi": str(), "n": 1 + rng.IntN(5), "r": rng.IntN(2) == 0}
		}, true},
		// An unknown variable beside a missing or ill-typed one: the
		// unknown one is reported first.
		{`Inbox[$o, $f] { subject }`, func() map[string]any {
			vars := map[string]any{"f": []any{"FOLDER_INBOX", "FOLDER_NOPE", 1, 99999999999}[rng.IntN(4)]}
			if rng.IntN(2) == 0 {
				vars["o"] = str()
			}
			if rng.IntN(2) == 0 {
				vars["extra"] = 1
			}
			return vars
		}, false},
		// Accesses without variables beside ones with (BindTo copies the
		// former's bounds, bound once): each variable alone in its
		// access, and literal bounds.
		{`User["alice"] { sessions["a".."m"](first: $n) { expires_us } }`, func() map[string]any { return map[string]any{"n": 1 + rng.IntN(5)} }, false},
		{`User[$id] { sessions[$a..$b](first: 2) { expires_us } }`, func() map[string]any {
			return map[string]any{"id": str(), "a": str(), "b": str()}
		}, false},
		{`User[$id] { sessions["a".."m"](reverse: $r) { expires_us } }`, func() map[string]any {
			return map[string]any{"id": str(), "r": rng.IntN(2) == 0}
		}, false},
		{`User["\x00\xff"..$hi](reverse: true) { sessions["\xff"](first: 1) { expires_us } }`, func() map[string]any { return map[string]any{"hi": str()} }, false},
		{`User(after: $c)`, func() map[string]any { return map[string]any{"c": []any{"", "garbage", 5}[rng.IntN(3)]} }, false},
		{`User[$id]`, func() map[string]any { return map[string]any{"id": str(), "extra": rng.IntN(3)} }, false},
		{`User { user_id }`, func() map[string]any { return nil }, false},
	}
	qs := make([]*query.Query, len(cases))
	for i, c := range cases {
		cat := catalog()
		if c.indexed {
			cat = indexedCatalog()
		}
		qs[i] = query.MustCompile(cat, c.text)
	}
	var dst query.Bound
	for n := range 3000 {
		i := rng.IntN(len(cases))
		vars := cases[i].vars()
		if i == len(cases)-2 && rng.IntN(2) == 0 {
			delete(vars, "extra")
		}
		want, werr := qs[i].Bind(vars)
		got, gerr := qs[i].BindTo(&dst, vars)
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Fatalf("#%d %s %v: BindTo error %v, Bind %v", n, cases[i].text, vars, gerr, werr)
		}
		if werr != nil {
			continue
		}
		check := func(when string) {
			t.Helper()
			for _, a := range qs[i].Plan().Accesses {
				if w, g := want.Access(a), got.Access(a); !sameAccess(w, g) {
					t.Fatalf("#%d %s %v, access %d %s: BindTo gave %+v, Bind %+v", n, cases[i].text, vars, a.ID, when, *g, *w)
				}
			}
			if got.Explain() != want.Explain() {
				t.Fatalf("#%d %s %v %s: BindTo explains as\n%s\nBind as\n%s", n, cases[i].text, vars, when, got.Explain(), want.Explain())
			}
		}
		check("")
		// Appending to one bound must not write into another.
		for _, a := range qs[i].Plan().Accesses {
			ba := got.Access(a)
			_ = append(ba.Lo, 0xEE, 0xEE, 0xEE)
			_ = append(ba.Hi, 0xEE, 0xEE, 0xEE)
		}
		check("after appending to the bounds")
		if rng.IntN(4) == 0 {
			dst.Reset()
		}
	}
}

func sameAccess(w, g *query.BoundAccess) bool {
	if !bytes.Equal(w.Lo, g.Lo) || !bytes.Equal(w.Hi, g.Hi) || (w.Hi == nil) != (g.Hi == nil) ||
		w.Exact != g.Exact || w.First != g.First || w.Reverse != g.Reverse || w.AfterPos != g.AfterPos {
		return false
	}
	return reflect.DeepEqual(w.After, g.After)
}

// TestBindToReuses holds BindTo of a point query with variables to no
// allocation once its Bound has grown: the executor binds every query
// into its pooled Bound (Bind allocates the Bound, its slices and every
// key bound).
func TestBindToReuses(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	q := query.MustCompile(catalog(), `User[$id] { sessions(first: 10) { expires_us } }`)
	vars := map[string]any{"id": "alice"}
	var dst query.Bound
	var err error
	got := testing.AllocsPerRun(100, func() {
		if _, e := q.BindTo(&dst, vars); e != nil {
			err = e
		}
		dst.Reset()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != 0 {
		t.Errorf("BindTo: %.1f allocations, want 0", got)
	}
}

// TestResetLeavesSharedBound: BindTo of a query without variables returns
// the Bound that Bind shares between the query's calls; a Reset of what
// BindTo returned must leave it bound, or every later call of the query
// would find no plan and no bounds.
func TestResetLeavesSharedBound(t *testing.T) {
	q := query.MustCompile(catalog(), `User { user_id }`)
	want, err := q.Bind(nil)
	if err != nil {
		t.Fatal(err)
	}
	explain := want.Explain()
	var dst query.Bound
	got, err := q.BindTo(&dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("BindTo of a query without variables gave %p, not Bind's shared Bound %p", got, want)
	}
	got.Reset()
	again, err := q.Bind(nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Plan != q.Plan() {
		t.Fatalf("after Reset of the Bound BindTo returned, Bind gives plan %p, want %p", again.Plan, q.Plan())
	}
	if got := again.Explain(); got != explain {
		t.Fatalf("after Reset of the Bound BindTo returned, Bind's Bound explains as\n%s\nwant\n%s", got, explain)
	}
}

// TestBindToConcurrent binds one query from several goroutines at once,
// each into its own Bound, as executions do: the bounds of its literal
// access, computed by the first call and shared by all (constAccesses),
// must be published to the others and left unwritten (run with -race).
func TestBindToConcurrent(t *testing.T) {
	q := query.MustCompile(catalog(), `User[$id] { sessions["a".."m"](first: 3) { expires_us } }`)
	want, err := q.Bind(map[string]any{"id": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst query.Bound
			for range 50 {
				got, err := q.BindTo(&dst, map[string]any{"id": "alice"})
				if err != nil {
					errs <- err.Error()
					return
				}
				for _, a := range q.Plan().Accesses {
					if w, g := want.Access(a), got.Access(a); !sameAccess(w, g) {
						errs <- fmt.Sprintf("access %d: BindTo gave %+v, Bind %+v", a.ID, *g, *w)
						return
					}
				}
				dst.Reset()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
