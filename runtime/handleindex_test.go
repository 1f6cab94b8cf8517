package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestTypedIndexHandles reads random accounts through the generated
// index handles and compares every answer with a naive filter of the
// accounts put.
func TestTypedIndexHandles(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 3))
		data := querytest.RandomAccounts(r)
		db := querytest.OpenIndexed(t, memkv.New())
		querytest.Put(t, db, data...)
		accounts, err := testpb.NewAccountTable(db)
		check(t, err)
		var all []*testpb.Account
		for _, m := range data {
			all = append(all, m.(*testpb.Account))
		}

		// A unique index: Get, and ErrNotFound for a value nobody holds.
		for _, a := range all {
			if a.Email == nil {
				continue
			}
			got, err := accounts.ByEmail().Get(ctx, a.GetEmail())
			check(t, err)
			if !proto.Equal(got, a) {
				t.Fatalf("seed %d: ByEmail().Get(%q) = %v, want %v", seed, a.GetEmail(), got, a)
			}
		}
		if _, err := accounts.ByEmail().Get(ctx, "nobody@x"); !errors.Is(err, runtime.ErrNotFound) {
			t.Fatalf("ByEmail().Get of an unknown email: got %v, want ErrNotFound", err)
		}

		// A composite, descending index: Find, then a prefix-and-range Scan,
		// forward and in reverse.
		for _, age := range []int32{0, 10, 20, 30} {
			for _, name := range []string{"", "ann", "bob"} {
				want := filterAccounts(all, func(a *testpb.Account) bool { return a.Age == age && a.Name == name })
				got := collectTyped(t, accounts.ByAge().Find(ctx, testpb.AccountByAgeValues{Age: age, Name: name}, runtime.ScanOptions{}))
				sameAccounts(t, "ByAge().Find", got, want)
			}
			want := filterAccounts(all, func(a *testpb.Account) bool { return a.Age == age && a.Name >= "b" })
			rng := runtime.AtLeast(runtime.Fix(runtime.Range[testpb.AccountByAgeValues]{}, age), "b")
			sameAccounts(t, "ByAge().Scan", collectTyped(t, accounts.ByAge().Scan(ctx, rng, runtime.ScanOptions{})), want)
			got := collectTyped(t, accounts.ByAge().Scan(ctx, rng, runtime.ScanOptions{Reverse: true}))
			slices.Reverse(got)
			sameAccounts(t, "ByAge().Scan reverse", got, want)
		}
		// Ages 30, 20 and 10, largest first: the column is descending.
		var desc []*testpb.Account
		for _, age := range []int32{30, 20, 10} {
			desc = append(desc, filterAccounts(all, func(a *testpb.Account) bool { return a.Age == age })...)
		}
		between := runtime.Between(runtime.Range[testpb.AccountByAgeValues]{}, int32(10), int32(40))
		got := collectTyped(t, accounts.ByAge().Scan(ctx, between, runtime.ScanOptions{}))
		if len(got) != len(desc) {
			t.Fatalf("seed %d: ByAge().Scan(10..40): %d rows, want %d", seed, len(got), len(desc))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Age > got[i-1].Age {
				t.Fatalf("seed %d: ByAge().Scan: age %d after %d on a descending column", seed, got[i].Age, got[i-1].Age)
			}
		}
		limited := collectTyped(t, accounts.ByTag().Find(ctx, "red", runtime.ScanOptions{Limit: 2}))
		if want := filterAccounts(all, func(a *testpb.Account) bool { return slices.Contains(a.Tags, "red") }); len(limited) != min(2, len(want)) {
			t.Fatalf("seed %d: ByTag().Find(red, limit 2): %d rows, want %d", seed, len(limited), min(2, len(want)))
		}

		// Map-scoped indexes, also inside a transaction.
		for _, a := range all {
			row := accounts.Row(testpb.AccountKey{Org: a.Org, AccountId: a.AccountId})
			for _, done := range []bool{false, true} {
				var want []string
				for k, tk := range a.Tasks {
					if tk.Done == done && tk.Priority == 1 {
						want = append(want, k)
					}
				}
				var keys []string
				for e, err := range row.TasksByDone().Find(ctx, testpb.TaskByDoneValues{Done: done, Priority: 1}, runtime.ScanOptions{}) {
					check(t, err)
					if !proto.Equal(e.Value, a.Tasks[e.Key]) {
						t.Fatalf("seed %d: TasksByDone entry %q = %v, want %v", seed, e.Key, e.Value, a.Tasks[e.Key])
					}
					keys = append(keys, e.Key)
				}
				slices.Sort(keys)
				slices.Sort(want)
				if !slices.Equal(keys, want) {
					t.Fatalf("seed %d: %s TasksByDone(%v, 1): %v, want %v", seed, a.Org, done, keys, want)
				}
			}
			err := db.View(ctx, func(tx *runtime.Tx) error {
				in := accounts.In(tx).Row(testpb.AccountKey{Org: a.Org, AccountId: a.AccountId})
				for k, tk := range a.Tasks {
					if tk.Slug == nil {
						continue
					}
					e, err := in.TasksBySlug().Get(ctx, tk.GetSlug())
					if err != nil {
						return err
					}
					if e.Key != k {
						t.Fatalf("seed %d: TasksBySlug().Get(%q) = entry %q, want %q", seed, tk.GetSlug(), e.Key, k)
					}
				}
				return nil
			})
			check(t, err)
		}
	}
}

// TestTypedIndexHandleErrors checks the refusals of the typed index
// handles: Get on an index that is not unique, a malformed cursor, an
// unknown index.
func TestTypedIndexHandleErrors(t *testing.T) {
	ctx := context.Background()
	db := querytest.OpenIndexed(t, memkv.New())
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	if _, err := accounts.ByTag().Get(ctx, "red"); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Get on a non-unique index: got %v, want ErrInvalid", err)
	}
	for _, err := range accounts.ByTag().Find(ctx, "red", runtime.ScanOptions{After: "x"}) {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("Find with a malformed ScanOptions.After: got %v, want ErrInvalid", err)
		}
	}
	unknown := runtime.NewTableIndex[string](accounts.TypedTable, "by_nothing", nil)
	if _, err := unknown.Get(ctx, "x"); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("Get on an unknown index: got %v, want ErrInvalid", err)
	}
	composite := runtime.NewTableIndex[int32](accounts.TypedTable, "by_age", nil)
	for _, err := range composite.Find(ctx, 3, runtime.ScanOptions{}) {
		if !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("a composite index without a values function: got %v, want ErrInvalid", err)
		}
	}
}

// TestIndexGetValuesPerColumn: Get through a unique index, of a table or
// of a map, refuses a values function that lists fewer values than the
// index has columns (none: a prefix of the index, where the row found
// would be whichever comes first) or more, with ErrInvalid, also when a
// row exists.
func TestIndexGetValuesPerColumn(t *testing.T) {
	ctx := context.Background()
	db := querytest.OpenIndexed(t, memkv.New())
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	email, slug := "a@x", "s1"
	check(t, accounts.Put(ctx, &testpb.Account{Org: "o1", AccountId: 1, Email: &email,
		Tasks: map[string]*testpb.Task{"t1": {Slug: &slug}}}))
	if _, err := accounts.ByEmail().Get(ctx, email); err != nil {
		t.Fatalf("ByEmail().Get: %v", err)
	}
	row := accounts.Row(testpb.AccountKey{Org: "o1", AccountId: 1})
	if _, err := row.TasksBySlug().Get(ctx, slug); err != nil {
		t.Fatalf("TasksBySlug().Get: %v", err)
	}
	for _, n := range []int{0, 2} {
		vals := func(s string) []protoreflect.Value {
			return slices.Repeat([]protoreflect.Value{protoreflect.ValueOfString(s)}, n)
		}
		if a, err := runtime.NewTableIndex(accounts.TypedTable, "by_email", vals).Get(ctx, email); !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("table index Get with %d values for 1 column: %v, %v; want ErrInvalid", n, a, err)
		}
		tasks := runtime.ObjectMapAt[string, *testpb.Task](row.Object.Handle.Field(9))
		if e, err := runtime.NewMapIndex(tasks, "by_slug", vals).Get(ctx, slug); !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("map index Get with %d values for 1 column: %v, %v; want ErrInvalid", n, e, err)
		}
	}
}

func filterAccounts(all []*testpb.Account, keep func(*testpb.Account) bool) []*testpb.Account {
	var out []*testpb.Account
	for _, a := range all {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

func collectTyped[M any](t *testing.T, seq func(func(M, error) bool)) []M {
	t.Helper()
	var out []M
	for m, err := range seq {
		check(t, err)
		out = append(out, m)
	}
	return out
}

// sameAccounts requires the same accounts, in primary-key order within
// equal index values (which is how the want lists are built: data is in
// key order per org, and the tests fix the values).
func sameAccounts(t *testing.T, what string, got, want []*testpb.Account) {
	t.Helper()
	byKey := func(a, b *testpb.Account) int {
		if a.Org != b.Org {
			return compareStrings(a.Org, b.Org)
		}
		return int(a.AccountId) - int(b.AccountId)
	}
	g, w := slices.Clone(got), slices.Clone(want)
	slices.SortStableFunc(g, byKey)
	slices.SortStableFunc(w, byKey)
	if len(g) != len(w) {
		t.Fatalf("%s: %d rows, want %d", what, len(g), len(w))
	}
	for i := range w {
		if !proto.Equal(g[i], w[i]) {
			t.Fatalf("%s: row %d = %v, want %v", what, i, g[i], w[i])
		}
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestIndexFindPrefix: Find through a values function that lists only the
// leading columns of a composite index streams every row (or map entry)
// whose leading columns hold them, in index order (the next column, then
// the key), forward and in reverse (table), and past a descending column
// (map); one listing more values than the index has columns is refused
// with ErrInvalid, saying so.
func TestIndexFindPrefix(t *testing.T) {
	ctx := context.Background()
	db := querytest.OpenIndexed(t, memkv.New())
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	for _, a := range []*testpb.Account{
		{Org: "o1", AccountId: 1, Age: 30, Name: "bob", Tasks: map[string]*testpb.Task{
			"k1": {Priority: 2}, "k2": {Done: true}, "k3": {}, "k4": {Priority: 1}, "k5": {},
		}},
		{Org: "o1", AccountId: 2, Age: 30, Name: "ann"},
		{Org: "o2", AccountId: 3, Age: 20, Name: "ann"},
		{Org: "o1", AccountId: 4, Age: 30, Name: "ann"},
		{Org: "o2", AccountId: 5, Age: 30, Name: "cy"},
	} {
		check(t, accounts.Put(ctx, a))
	}
	ids := func(seq func(func(*testpb.Account, error) bool)) (out []uint64) {
		for _, a := range collectTyped(t, seq) {
			out = append(out, a.AccountId)
		}
		return out
	}
	byAge := runtime.NewTableIndex(accounts.TypedTable, "by_age", func(age int32) []protoreflect.Value {
		return []protoreflect.Value{protoreflect.ValueOfInt32(age)}
	})
	if got, want := ids(byAge.Find(ctx, 30, runtime.ScanOptions{})), []uint64{2, 4, 1, 5}; !slices.Equal(got, want) {
		t.Errorf("by_age Find(30) by age alone: rows %v, want %v", got, want)
	}
	if got, want := ids(byAge.Find(ctx, 30, runtime.ScanOptions{Reverse: true})), []uint64{5, 1, 4, 2}; !slices.Equal(got, want) {
		t.Errorf("by_age Find(30) reverse: rows %v, want %v", got, want)
	}
	if got := ids(byAge.Find(ctx, 40, runtime.ScanOptions{})); len(got) != 0 {
		t.Errorf("by_age Find(40): rows %v, want none", got)
	}

	row := accounts.Row(testpb.AccountKey{Org: "o1", AccountId: 1})
	tasks := runtime.ObjectMapAt[string, *testpb.Task](row.Object.Handle.Field(9))
	byDone := runtime.NewMapIndex(tasks, "by_done", func(done bool) []protoreflect.Value {
		return []protoreflect.Value{protoreflect.ValueOfBool(done)}
	})
	var keys []string
	for e, err := range byDone.Find(ctx, false, runtime.ScanOptions{}) {
		check(t, err)
		keys = append(keys, e.Key)
	}
	// priority is descending: 2, 1, then 0 in key order.
	if want := []string{"k1", "k4", "k3", "k5"}; !slices.Equal(keys, want) {
		t.Errorf("tasks by_done Find(false) by done alone: entries %v, want %v", keys, want)
	}

	tooMany := runtime.NewTableIndex(accounts.TypedTable, "by_age", func(age int32) []protoreflect.Value {
		return []protoreflect.Value{protoreflect.ValueOfInt32(age), protoreflect.ValueOfString("ann"), protoreflect.ValueOfString("x")}
	})
	// Each must yield its error: a loop over nothing would pass.
	n := 0
	for a, err := range tooMany.Find(ctx, 30, runtime.ScanOptions{}) {
		n++
		if !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), "Find was given 3 values") {
			t.Errorf("by_age Find with 3 values for 2 columns: %v, %v; want ErrInvalid saying Find was given 3 values", a, err)
		}
	}
	if n != 1 {
		t.Errorf("by_age Find with 3 values for 2 columns yielded %d elements, want its error alone", n)
	}
	tooManyMap := runtime.NewMapIndex(tasks, "by_done", func(done bool) []protoreflect.Value {
		return []protoreflect.Value{protoreflect.ValueOfBool(done), protoreflect.ValueOfUint32(0), protoreflect.ValueOfUint32(0)}
	})
	n = 0
	for e, err := range tooManyMap.Find(ctx, false, runtime.ScanOptions{}) {
		n++
		if !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), "Find was given 3 values") {
			t.Errorf("tasks by_done Find with 3 values for 2 columns: %v, %v; want ErrInvalid saying Find was given 3 values", e, err)
		}
	}
	if n != 1 {
		t.Errorf("tasks by_done Find with 3 values for 2 columns yielded %d elements, want its error alone", n)
	}
}

// TestIndexCursorAtValueCount: CursorAt through a values function listing
// fewer values than the index's columns (a view for prefix lookups with
// Find) or more is refused with ErrInvalid saying how many it was given,
// for a table and a map index, where a prefix used to panic indexing the
// values past their end; with one value per column it names the entry.
func TestIndexCursorAtValueCount(t *testing.T) {
	ctx := context.Background()
	db := querytest.OpenIndexed(t, memkv.New())
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	a := &testpb.Account{Org: "o1", AccountId: 1, Age: 30, Name: "bob", Tasks: map[string]*testpb.Task{"k1": {Priority: 2}}}
	check(t, accounts.Put(ctx, a))
	row := accounts.Row(testpb.AccountKey{Org: "o1", AccountId: 1})
	tasks := runtime.ObjectMapAt[string, *testpb.Task](row.Object.Handle.Field(9))
	entry := runtime.Entry[string, *testpb.Task]{Key: "k1", Value: a.Tasks["k1"]}
	refused := func(name string, want int, cursor string, err error) {
		t.Helper()
		if !errors.Is(err, runtime.ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("CursorAt was given %d values", want)) {
			t.Errorf("%s: %q, %v; want ErrInvalid saying CursorAt was given %d values", name, cursor, err, want)
		}
	}
	for _, n := range []int{0, 1, 3} {
		vals := []protoreflect.Value{protoreflect.ValueOfInt32(30), protoreflect.ValueOfString("bob"), protoreflect.ValueOfString("x")}[:n]
		byAge := runtime.NewTableIndex(accounts.TypedTable, "by_age", func(int32) []protoreflect.Value { return vals })
		c, err := byAge.CursorAt(30, a)
		refused(fmt.Sprintf("by_age CursorAt with %d values", n), n, c, err)
		mvals := []protoreflect.Value{protoreflect.ValueOfBool(false), protoreflect.ValueOfUint32(2), protoreflect.ValueOfUint32(0)}[:n]
		byDone := runtime.NewMapIndex(tasks, "by_done", func(bool) []protoreflect.Value { return mvals })
		c, err = byDone.CursorAt(false, entry)
		refused(fmt.Sprintf("tasks by_done CursorAt with %d values", n), n, c, err)
	}
	byAge := runtime.NewTableIndex(accounts.TypedTable, "by_age", func(age int32) []protoreflect.Value {
		return []protoreflect.Value{protoreflect.ValueOfInt32(age), protoreflect.ValueOfString("bob")}
	})
	c, err := byAge.CursorAt(30, a)
	check(t, err)
	if got := collectTyped(t, byAge.Find(ctx, 30, runtime.ScanOptions{After: c})); len(got) != 0 {
		t.Errorf("by_age Find after bob's cursor: %d rows, want none", len(got))
	}
}

// TestIndexGetRowOfAnotherType reads, through a unique index's Get, a row
// that the DB decodes as another Go type than the handle's (a dynamic
// message): Get fails with ErrInvalid and the error of Find's, which
// checks the row with messageAs, on the DB and in a transaction, instead
// of panicking or returning a wrong row.
func TestIndexGetRowOfAnotherType(t *testing.T) {
	ctx := context.Background()
	db := querytest.OpenIndexed(t, memkv.New())
	accounts := must[testpb.AccountTable](t)(testpb.NewAccountTable(db))
	email := "ann@x"
	check(t, accounts.Put(ctx, &testpb.Account{Org: "o1", AccountId: 1, Email: &email}))
	runtime.DecodeDynamicForTest(db, (&testpb.Account{}).ProtoReflect().Descriptor())

	var want error
	for _, err := range accounts.ByEmail().Find(ctx, email, runtime.ScanOptions{}) {
		want = err
		break
	}
	if !errors.Is(want, runtime.ErrInvalid) || !strings.Contains(want.Error(), "*testpb.Account was expected") {
		t.Fatalf("Find of a dynamic row: got %v, want messageAs's ErrInvalid", want)
	}
	checkGet := func(where string, x runtime.TableIndex[string, *testpb.Account]) {
		t.Helper()
		got, err := x.Get(ctx, email)
		if err == nil || err.Error() != want.Error() || !errors.Is(err, runtime.ErrInvalid) {
			t.Fatalf("%s: ByEmail().Get of a dynamic row = %v, %v; want the error %q", where, got, err, want)
		}
	}
	checkGet("DB", accounts.ByEmail())
	check(t, db.View(ctx, func(tx *runtime.Tx) error {
		checkGet("Tx", accounts.In(tx).ByEmail())
		return nil
	}))
}

// TestIndexGetConcurrent runs unique index Gets, and Finds of another
// index, from several goroutines on Pebble: the pooled index calls build
// their bounds in buffers they keep across calls, which no read may share
// with another or find changed under it. Emails of several lengths (one
// longer than the largest buffer a call keeps) make each call's key differ
// from the last one its buffer held; every answer must be the row asked
// for, or ErrNotFound for an email nobody holds. Run it with -race.
func TestIndexGetConcurrent(t *testing.T) {
	ctx := context.Background()
	db := querytest.OpenIndexed(t, openPebble(t))
	accounts := must[testpb.AccountTable](t)(testpb.NewAccountTable(db))
	emails := make([]string, 24)
	for i := range emails {
		emails[i] = fmt.Sprintf("%s%d@x", strings.Repeat("u", []int{1, 40, 90, 2000}[i%4]), i)
		check(t, accounts.Put(ctx, &testpb.Account{Org: "o1", AccountId: uint64(i + 1), Email: &emails[i], Age: int32(i % 3)}))
	}
	const workers, rounds = 4, 150
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				for i := range rounds {
					e := emails[(i*7+w)%len(emails)]
					a, err := accounts.ByEmail().Get(ctx, e)
					if err != nil || a.GetEmail() != e {
						return fmt.Errorf("Get(%.20q…) = %.20q…, %v", e, a.GetEmail(), err)
					}
					if _, err := accounts.ByEmail().Get(ctx, e+"!"); !errors.Is(err, runtime.ErrNotFound) {
						return fmt.Errorf("Get of an unknown email: %v, want ErrNotFound", err)
					}
					age := int32(i % 3)
					n := 0
					for a, err := range accounts.ByAge().Find(ctx, testpb.AccountByAgeValues{Age: age}, runtime.ScanOptions{}) {
						if err != nil || a.GetAge() != age {
							return fmt.Errorf("ByAge().Find(%d): got age %d, %v", age, a.GetAge(), err)
						}
						n++
					}
					if n != len(emails)/3 {
						return fmt.Errorf("ByAge().Find(%d) found %d rows, want %d", age, n, len(emails)/3)
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestMapIndexGetTypes: a map index's Get refuses an entry whose key or
// value is not of the view's Go types with the error its Find gives for
// the same entry (Find converts with valueAs; Get checks the types by
// reflect.Type inside its read), and a view of the right types finds it.
func TestMapIndexGetTypes(t *testing.T) {
	ctx := context.Background()
	db := querytest.OpenIndexed(t, memkv.New())
	accounts, err := testpb.NewAccountTable(db)
	check(t, err)
	check(t, accounts.Put(ctx, &testpb.Account{Org: "o", AccountId: 1, Tasks: map[string]*testpb.Task{"t1": {Slug: proto.String("s1")}}}))
	tasks := accounts.Row(testpb.AccountKey{Org: "o", AccountId: 1}).Object.Handle.Field(9)
	type result struct {
		ok  bool
		err error
	}
	views := map[string]struct {
		get, find func() result
	}{
		"int32 keys": {
			func() result {
				_, err := runtime.NewMapIndex[string](runtime.ObjectMapAt[int32, *testpb.Task](tasks), "by_slug", nil).Get(ctx, "s1")
				return result{err == nil, err}
			},
			func() result {
				for _, err := range runtime.NewMapIndex[string](runtime.ObjectMapAt[int32, *testpb.Task](tasks), "by_slug", nil).Find(ctx, "s1", runtime.ScanOptions{}) {
					return result{err == nil, err}
				}
				return result{}
			},
		},
		"Account values": {
			func() result {
				_, err := runtime.NewMapIndex[string](runtime.ObjectMapAt[string, *testpb.Account](tasks), "by_slug", nil).Get(ctx, "s1")
				return result{err == nil, err}
			},
			func() result {
				for _, err := range runtime.NewMapIndex[string](runtime.ObjectMapAt[string, *testpb.Account](tasks), "by_slug", nil).Find(ctx, "s1", runtime.ScanOptions{}) {
					return result{err == nil, err}
				}
				return result{}
			},
		},
		"proto.Message values": {
			func() result {
				_, err := runtime.NewMapIndex[string](runtime.ObjectMapAt[string, proto.Message](tasks), "by_slug", nil).Get(ctx, "s1")
				return result{err == nil, err}
			},
			func() result {
				for _, err := range runtime.NewMapIndex[string](runtime.ObjectMapAt[string, proto.Message](tasks), "by_slug", nil).Find(ctx, "s1", runtime.ScanOptions{}) {
					return result{err == nil, err}
				}
				return result{}
			},
		},
		"Task values": {
			func() result {
				e, err := runtime.NewMapIndex[string](runtime.ObjectMapAt[string, *testpb.Task](tasks), "by_slug", nil).Get(ctx, "s1")
				return result{err == nil && e.Key == "t1" && e.Value.GetSlug() == "s1", err}
			},
			func() result {
				for e, err := range runtime.NewMapIndex[string](runtime.ObjectMapAt[string, *testpb.Task](tasks), "by_slug", nil).Find(ctx, "s1", runtime.ScanOptions{}) {
					return result{err == nil && e.Key == "t1" && e.Value.GetSlug() == "s1", err}
				}
				return result{}
			},
		},
	}
	for name, v := range views {
		get, find := v.get(), v.find()
		if get.ok != (name == "Task values") || find.ok != get.ok {
			t.Errorf("%s: Get %v, %v; Find %v, %v", name, get.ok, get.err, find.ok, find.err)
			continue
		}
		if get.ok {
			continue
		}
		if !errors.Is(get.err, runtime.ErrInvalid) || find.err == nil || get.err.Error() != find.err.Error() {
			t.Errorf("%s: Get's error %v, Find's %v; want the same ErrInvalid", name, get.err, find.err)
		}
		t.Logf("%s: %v", name, get.err)
	}
}
