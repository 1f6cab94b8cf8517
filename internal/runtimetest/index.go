package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The index model (IndexModel): random writes of every kind (Put, Delete,
// DeleteRows, UpdateInline, inline and breakout setters, map-entry Put,
// Delete, DeleteRange and Clear, entry setters, object Put and Delete, and
// the same inside DB.Update) on the indexed Account table, applied both to
// the DB and to a model. After every step, the raw index entries in the
// store must equal the entries computed from the model, and every write
// the model says breaks a unique index must fail with ErrUniqueViolation
// and change nothing.

// ixRow is the model of one Account row, with which of its indexed
// objects have their own key (only those have index entries).
type ixRow struct {
	msg       *testpb.Account
	own       bool
	taskOwn   map[string]bool
	itemOwn   map[uint64]bool
	drawerOwn bool
}

func (r *ixRow) clone() *ixRow {
	return &ixRow{msg: proto.Clone(r.msg).(*testpb.Account), own: r.own, taskOwn: maps.Clone(r.taskOwn),
		itemOwn: maps.Clone(r.itemOwn), drawerOwn: r.drawerOwn}
}

type ixState map[testpb.AccountKey]*ixRow

func (s ixState) clone() ixState {
	c := ixState{}
	for k, r := range s {
		c[k] = r.clone()
	}
	return c
}

// row returns the row at k, creating it (existing only through what is
// then written below it).
func (s ixState) row(k testpb.AccountKey) *ixRow {
	r := s[k]
	if r == nil {
		r = &ixRow{msg: &testpb.Account{Org: k.Org, AccountId: k.AccountId}, taskOwn: map[string]bool{}, itemOwn: map[uint64]bool{}}
		s[k] = r
	}
	return r
}

func (r *ixRow) task(k string) *testpb.Task {
	if r.msg.Tasks == nil {
		r.msg.Tasks = map[string]*testpb.Task{}
	}
	if r.msg.Tasks[k] == nil {
		r.msg.Tasks[k] = &testpb.Task{}
	}
	return r.msg.Tasks[k]
}

// ixOp is one write: model changes the model, do performs it.
type ixOp struct {
	name  string
	model func(s ixState)
	do    func(ctx context.Context, acc testpb.AccountTable) error
}

type ixModel struct {
	t   *testing.T
	rng *rand.Rand
	db  *runtime.DB
	acc testpb.AccountTable
	sch *schema.Table
	st  ixState
}

// IndexModel runs steps random writes of every kind on the indexed Account
// table of a DB over store, and after each one checks that the stored index
// entries are exactly those computed from the model and that the rows read
// back as modelled; a write the model says breaks a unique index must fail
// with runtime.ErrUniqueViolation and change nothing. opts are passed to
// runtime.Open (a namespace, for instance).
func IndexModel(t *testing.T, store kv.Store, seed uint64, steps int, opts ...runtime.Option) {
	ctx := context.Background()
	db, err := runtime.Open(ctx, store, append(opts, runtime.WithSchema(testpb.File_protoql_test_v1_indexed_proto))...)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := testpb.NewAccountTable(db)
	if err != nil {
		t.Fatal(err)
	}
	m := &ixModel{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x51)), db: db, acc: acc, sch: acc.Table().Schema(), st: ixState{}}
	violations := 0
	for step := range steps {
		name, violated := m.step(ctx)
		if violated {
			violations++
		}
		if t.Failed() {
			t.Fatalf("seed %d step %d (%s) failed", seed, step, name)
		}
		m.verify(ctx, fmt.Sprintf("seed %d step %d after %s", seed, step, name))
		if t.Failed() {
			t.FailNow()
		}
	}
	if violations == 0 {
		t.Errorf("seed %d: no unique violation in %d steps; the test does not exercise them", seed, steps)
	}
}

var (
	ixOrgs   = []string{"a", "b"}
	ixEmails = []string{"x", "y"}
	ixTasks  = []string{"k1", "k2", "k3"}
	ixSlugs  = []string{"s1", "s2"}
)

func (m *ixModel) key() testpb.AccountKey {
	return testpb.AccountKey{Org: ixOrgs[m.rng.IntN(2)], AccountId: uint64(1 + m.rng.IntN(3))}
}

func (m *ixModel) pick(ss []string) string { return ss[m.rng.IntN(len(ss))] }

func (m *ixModel) email() *string {
	if m.rng.IntN(3) == 0 {
		return nil
	}
	return proto.String(m.pick(ixEmails))
}

func (m *ixModel) task() *testpb.Task {
	t := &testpb.Task{Text: m.pick([]string{"", "t"}), Done: m.rng.IntN(2) == 0, Priority: uint32(m.rng.IntN(3))}
	if m.rng.IntN(3) == 0 {
		t.Slug = proto.String(m.pick(ixSlugs))
	}
	for range m.rng.IntN(3) {
		t.Labels = append(t.Labels, int64(m.rng.IntN(3)-1))
	}
	if m.rng.IntN(4) == 0 {
		t.Attrs = map[string]string{"a": "b"}
	}
	return t
}

func (m *ixModel) tags() []string {
	var tags []string
	for range m.rng.IntN(4) {
		tags = append(tags, m.pick([]string{"t1", "t2", ""}))
	}
	return tags
}

func (m *ixModel) account(k testpb.AccountKey) *testpb.Account {
	a := &testpb.Account{Org: k.Org, AccountId: k.AccountId, Email: m.email(), Age: int32(m.rng.IntN(4) * 10),
		Name: m.pick([]string{"", "n", "m"}), Tags: m.tags(), State: testpb.AccountState(m.rng.IntN(3)),
		LastSeenUs: int64(m.rng.IntN(3) - 1), Bio: m.pick([]string{"", "bio"}), Score: int64(m.rng.IntN(2))}
	for range m.rng.IntN(3) {
		if a.Tasks == nil {
			a.Tasks = map[string]*testpb.Task{}
		}
		a.Tasks[m.pick(ixTasks)] = m.task()
	}
	if m.rng.IntN(3) == 0 {
		a.Drawer = m.drawer()
	}
	return a
}

func (m *ixModel) drawer() *testpb.Drawer {
	d := &testpb.Drawer{Title: m.pick([]string{"", "d"})}
	for range m.rng.IntN(3) {
		if d.Items == nil {
			d.Items = map[uint64]*testpb.Task{}
		}
		d.Items[uint64(m.rng.IntN(3))] = m.task()
	}
	return d
}

// op returns a random single write.
func (m *ixModel) op() ixOp {
	k := m.key()
	tk := m.pick(ixTasks)
	ik := uint64(m.rng.IntN(3))
	switch m.rng.IntN(20) {
	case 0, 1:
		a := m.account(k)
		return ixOp{"put row", func(s ixState) {
			r := s.row(k)
			r.msg, r.own, r.drawerOwn = proto.Clone(a).(*testpb.Account), true, a.Drawer != nil
			r.taskOwn, r.itemOwn = map[string]bool{}, map[uint64]bool{}
			for k := range a.Tasks {
				r.taskOwn[k] = true
			}
			for k := range a.GetDrawer().GetItems() {
				r.itemOwn[k] = true
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error { return acc.Put(ctx, a) }}
	case 2:
		return ixOp{"delete row", func(s ixState) { delete(s, k) },
			func(ctx context.Context, acc testpb.AccountTable) error { return acc.Delete(ctx, k) }}
	case 3:
		org := m.pick(ixOrgs)
		return ixOp{"delete rows", func(s ixState) {
			for k := range s {
				if k.Org == org {
					delete(s, k)
				}
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error {
			return acc.DeleteRows(ctx, testpb.AccountKeys().Org(org))
		}}
	case 4:
		e, age, tags, name := m.email(), int32(m.rng.IntN(3)*10), m.tags(), m.pick([]string{"n", "m"})
		return ixOp{"update inline row", func(s ixState) {
			r := s.row(k)
			r.own = true
			r.msg.Email, r.msg.Age, r.msg.Tags, r.msg.Name = e, age, tags, name
		}, func(ctx context.Context, acc testpb.AccountTable) error {
			return acc.UpdateInline(ctx, k, func(a *testpb.Account) error {
				a.Email, a.Age, a.Tags, a.Name = e, age, tags, name
				return nil
			})
		}}
	case 5:
		e := m.pick(ixEmails)
		return ixOp{"set email", func(s ixState) { r := s.row(k); r.own = true; r.msg.Email = proto.String(e) },
			func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Email().Set(ctx, e) }}
	case 6:
		tags := m.tags()
		return ixOp{"set tags", func(s ixState) { r := s.row(k); r.own = true; r.msg.Tags = tags },
			func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Tags().Set(ctx, tags) }}
	case 7:
		bio := m.pick([]string{"", "b"})
		return ixOp{"set bio (not indexed)", func(s ixState) { r := s.row(k); r.own = true; r.msg.Bio = bio },
			func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Bio().Set(ctx, bio) }}
	case 8:
		v := int64(m.rng.IntN(3) - 1)
		return ixOp{"set last_seen_us", func(s ixState) { s.row(k).msg.LastSeenUs = v },
			func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).LastSeenUs().Set(ctx, v) }}
	case 9:
		return ixOp{"clear last_seen_us", func(s ixState) {
			if r := s[k]; r != nil {
				r.msg.LastSeenUs = 0
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).LastSeenUs().Clear(ctx) }}
	case 10:
		t := m.task()
		return ixOp{"put task", func(s ixState) {
			r := s.row(k)
			r.task(tk)
			r.msg.Tasks[tk] = proto.Clone(t).(*testpb.Task)
			r.taskOwn[tk] = true
		}, func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Tasks().Put(ctx, tk, t) }}
	case 11:
		return ixOp{"delete task", func(s ixState) {
			if r := s[k]; r != nil {
				delete(r.msg.Tasks, tk)
				delete(r.taskOwn, tk)
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Tasks().Delete(ctx, tk) }}
	case 12:
		return ixOp{"delete task range", func(s ixState) {
			if r := s[k]; r != nil {
				for _, t := range []string{"k1", "k2"} {
					delete(r.msg.Tasks, t)
					delete(r.taskOwn, t)
				}
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error {
			ref, err := acc.Row(k).Tasks().Ref()
			if err != nil {
				return err
			}
			return acc.Querier().DeleteRange(ctx, ref, runtime.KeyRange{Lower: protoreflect.ValueOfString("k1"), Upper: protoreflect.ValueOfString("k3")})
		}}
	case 13:
		done, slug := m.rng.IntN(2) == 0, m.pick(ixSlugs)
		return ixOp{"set task done and slug", func(s ixState) {
			r := s.row(k)
			t := r.task(tk)
			t.Done, t.Slug = done, proto.String(slug)
			r.taskOwn[tk] = true
		}, func(ctx context.Context, acc testpb.AccountTable) error {
			return acc.Row(k).Tasks().Entry(tk).UpdateInline(ctx, func(t *testpb.Task) error {
				t.Done, t.Slug = done, proto.String(slug)
				return nil
			})
		}}
	case 14:
		labels := []int64{int64(m.rng.IntN(3)), 1}
		return ixOp{"set task labels", func(s ixState) {
			r := s.row(k)
			r.task(tk).Labels = labels
			r.taskOwn[tk] = true
		}, func(ctx context.Context, acc testpb.AccountTable) error {
			return acc.Row(k).Tasks().Entry(tk).Labels().Set(ctx, labels)
		}}
	case 15:
		p := uint32(m.rng.IntN(3))
		return ixOp{"set task priority", func(s ixState) { s.row(k).task(tk).Priority = p },
			func(ctx context.Context, acc testpb.AccountTable) error {
				return acc.Row(k).Tasks().Entry(tk).Priority().Set(ctx, p)
			}}
	case 16:
		return ixOp{"clear tasks", func(s ixState) {
			if r := s[k]; r != nil {
				r.msg.Tasks, r.taskOwn = nil, map[string]bool{}
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Tasks().Clear(ctx) }}
	case 17:
		t := m.task()
		return ixOp{"put drawer item", func(s ixState) {
			r := s.row(k)
			if r.msg.Drawer == nil {
				r.msg.Drawer = &testpb.Drawer{}
			}
			if r.msg.Drawer.Items == nil {
				r.msg.Drawer.Items = map[uint64]*testpb.Task{}
			}
			r.msg.Drawer.Items[ik] = proto.Clone(t).(*testpb.Task)
			r.itemOwn[ik] = true
		}, func(ctx context.Context, acc testpb.AccountTable) error {
			return acc.Row(k).Drawer().Items().Put(ctx, ik, t)
		}}
	case 18:
		return ixOp{"delete drawer", func(s ixState) {
			if r := s[k]; r != nil {
				r.msg.Drawer, r.itemOwn, r.drawerOwn = nil, map[uint64]bool{}, false
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Drawer().Delete(ctx) }}
	default:
		d := m.drawer()
		return ixOp{"put drawer", func(s ixState) {
			r := s.row(k)
			r.msg.Drawer, r.drawerOwn = proto.Clone(d).(*testpb.Drawer), true
			r.itemOwn = map[uint64]bool{}
			for k := range d.Items {
				r.itemOwn[k] = true
			}
		}, func(ctx context.Context, acc testpb.AccountTable) error { return acc.Row(k).Drawer().Put(ctx, d) }}
	}
}

// step runs one write, or a transaction of a few, and reports whether the
// model expected (and got) a unique violation.
func (m *ixModel) step(ctx context.Context) (string, bool) {
	n := 1
	inTx := m.rng.IntN(5) == 0
	if inTx {
		n = 1 + m.rng.IntN(3)
	}
	ops := make([]ixOp, n)
	next := m.st.clone()
	violated := false
	for i := range ops {
		ops[i] = m.op()
		if !violated {
			ops[i].model(next)
			violated = m.collides(next)
		}
	}
	var err error
	name := ops[0].name
	if inTx {
		name = "tx"
		for _, op := range ops {
			name += " / " + op.name
		}
		err = m.db.Update(ctx, func(tx *runtime.Tx) error {
			for _, op := range ops {
				if err := op.do(ctx, m.acc.In(tx)); err != nil {
					return err
				}
			}
			return nil
		})
	} else {
		err = ops[0].do(ctx, m.acc)
	}
	switch {
	case violated && !errors.Is(err, runtime.ErrUniqueViolation):
		m.t.Errorf("%s: got error %v, want a unique violation", name, err)
	case !violated && err != nil:
		m.t.Errorf("%s: %v", name, err)
	case !violated:
		m.st = next
	}
	return name, violated
}

// expected computes every index entry of state s (key → value), and
// whether a unique index would hold two different targets under one key.
func (m *ixModel) expected(s ixState) (map[string]string, bool) {
	out := map[string]string{}
	collide := false
	add := func(x *schema.Index, key []byte, owner int, msg protoreflect.Message) {
		for _, e := range x.Keys(m.db.Namespace(), key, owner, msg) {
			if v, ok := out[string(e[0])]; ok && v != string(e[1]) {
				collide = true
			}
			out[string(e[0])] = string(e[1])
		}
	}
	tasks := m.sch.Root.Field(9)
	items := m.sch.Root.Field(10).Child.Field(2)
	for _, r := range s {
		rk := m.sch.RowKeyOf(m.db.Namespace(), r.msg.ProtoReflect())
		if r.own {
			for _, x := range m.sch.Indexes {
				add(x, rk, 0, r.msg.ProtoReflect())
			}
		}
		for tk, own := range r.taskOwn {
			if !own {
				continue
			}
			ek := tasks.Key.Append(bytes.Clone(rk), protoreflect.ValueOfString(tk))
			for _, x := range tasks.Indexes {
				add(x, ek, len(rk), r.msg.Tasks[tk].ProtoReflect())
			}
		}
		owner := tuple.AppendUnit(bytes.Clone(rk), 10)
		for ik, own := range r.itemOwn {
			if !own {
				continue
			}
			ek := items.Key.Append(bytes.Clone(owner), protoreflect.ValueOfUint64(ik))
			for _, x := range items.Indexes {
				add(x, ek, len(owner), r.msg.Drawer.Items[ik].ProtoReflect())
			}
		}
	}
	return out, collide
}

func (m *ixModel) collides(s ixState) bool {
	_, c := m.expected(s)
	return c
}

// stored reads every index entry in the store: the table's 0x01 range and
// every map-scoped entry under its rows.
func (m *ixModel) stored(ctx context.Context) map[string]string {
	out := map[string]string{}
	ns := m.db.Namespace()
	tp := append(append(bytes.Clone(ns), schema.IndexPrefix), tuple.AppendUnit(nil, m.sch.ID)...)
	rp := m.sch.AppendPrefix(bytes.Clone(ns))
	for _, rg := range [][2][]byte{{tp, tuple.PrefixEnd(tp)}, {rp, tuple.PrefixEnd(rp)}} {
		it, err := m.db.Store().NewIter(ctx, kv.IterOptions{LowerBound: rg[0], UpperBound: rg[1]})
		if err != nil {
			m.t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			key := it.Key()
			if key[len(ns)] != schema.IndexPrefix {
				loc, err := m.db.Catalog().Resolve(key[len(ns):])
				if err != nil {
					m.t.Fatalf("stored key %x does not resolve: %v", key, err)
				}
				if loc.Index == nil {
					continue
				}
			}
			out[string(key)] = string(it.Value())
		}
		if err := it.Close(); err != nil {
			m.t.Fatal(err)
		}
	}
	return out
}

func (m *ixModel) verify(ctx context.Context, when string) {
	want, _ := m.expected(m.st)
	got := m.stored(ctx)
	if !maps.Equal(got, want) {
		var missing, extra []string
		for k, v := range want {
			if gv, ok := got[k]; !ok || gv != v {
				missing = append(missing, tuple.Format(bytes.TrimPrefix([]byte(k), m.db.Namespace()))+" → "+fmt.Sprintf("%x", v))
			}
		}
		for k, v := range got {
			if wv, ok := want[k]; !ok || wv != v {
				extra = append(extra, fmt.Sprintf("%x → %x", k, v))
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		m.t.Errorf("%s: index entries differ from the model\nmissing: %q\nunexpected: %q", when, missing, extra)
	}
	for _, k := range slices.Collect(maps.Keys(m.st)) {
		r := m.st[k]
		if !r.own {
			continue
		}
		got, err := m.acc.Get(ctx, k)
		if err != nil {
			m.t.Errorf("%s: Get %v: %v", when, k, err)
			continue
		}
		if r.msg.Drawer != nil && !r.drawerOwn && len(r.msg.Drawer.Items) == 0 {
			r.msg.Drawer = nil // an object with no keys does not exist
		}
		if !proto.Equal(got, r.msg) {
			m.t.Errorf("%s: row %v = %v, want %v", when, k, got, r.msg)
		}
	}
}

// IndexInStep checks that the index entries stored in db (opened on the
// indexed test schema) are exactly those computed from its Account rows,
// as after a crash: every write landed with its index changes or not at
// all. It returns how many rows and index entries it compared.
func IndexInStep(t *testing.T, db *runtime.DB) (rows, entries int) {
	t.Helper()
	ctx := context.Background()
	acc, err := testpb.NewAccountTable(db)
	if err != nil {
		t.Fatal(err)
	}
	m := &ixModel{t: t, db: db, acc: acc, sch: acc.Table().Schema()}
	exists := func(key []byte) bool {
		_, err := db.Store().Get(ctx, key)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	st := ixState{}
	tasks := m.sch.Root.Field(9)
	items := m.sch.Root.Field(10).Child.Field(2)
	for a, err := range acc.Scan(ctx, testpb.AccountKeys(), runtime.ScanOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		rk := m.sch.RowKeyOf(db.Namespace(), a.ProtoReflect())
		r := &ixRow{msg: a, own: exists(rk), taskOwn: map[string]bool{}, itemOwn: map[uint64]bool{}}
		for k := range a.Tasks {
			r.taskOwn[k] = exists(tasks.Key.Append(bytes.Clone(rk), protoreflect.ValueOfString(k)))
		}
		owner := tuple.AppendUnit(bytes.Clone(rk), 10)
		for k := range a.GetDrawer().GetItems() {
			r.itemOwn[k] = exists(items.Key.Append(bytes.Clone(owner), protoreflect.ValueOfUint64(k)))
		}
		st[testpb.AccountKey{Org: a.Org, AccountId: a.AccountId}] = r
	}
	want, collide := m.expected(st)
	if collide {
		t.Errorf("the stored rows break a unique index")
	}
	if got := m.stored(ctx); !maps.Equal(got, want) {
		extra, missing := 0, 0
		for k, v := range got {
			if want[k] != v {
				extra++
			}
		}
		for k, v := range want {
			if got[k] != v {
				missing++
			}
		}
		t.Errorf("%d index entries stored, %d computed from the rows: %d missing, %d unexpected", len(got), len(want), missing, extra)
	}
	return len(st), len(want)
}

// IndexSplits returns split keys for a multi-region store (no namespace)
// that put IndexModel's table index entries, its rows, and the map-scoped
// index entries inside one row in regions of their own, so that a write
// and its index changes span regions.
func IndexSplits() [][]byte {
	cat, err := schema.Compile(testpb.File_protoql_test_v1_indexed_proto)
	if err != nil {
		panic(err) // the test schema compiles (the runtime tests say so)
	}
	var sch *schema.Table
	for _, t := range cat.Tables {
		if t.Desc.FullName() == (&testpb.Account{}).ProtoReflect().Descriptor().FullName() {
			sch = t
		}
	}
	rk := func(org string, id uint64) []byte {
		return sch.RowKeyOf(nil, (&testpb.Account{Org: org, AccountId: id}).ProtoReflect())
	}
	tp := append([]byte{schema.IndexPrefix}, tuple.AppendUnit(nil, sch.ID)...)
	return [][]byte{
		tp,
		tuple.AppendUnit(bytes.Clone(tp), 3), // table indexes 1–2 | 3–5
		sch.AppendPrefix(nil),
		rk("a", 1),
		append(rk("a", 1), 0xFA), // row a/1's entries | its map-scoped index entries
		rk("b", 1),
		append(rk("b", 2), 0xA0), // row b/2's tasks | its drawer
	}
}
