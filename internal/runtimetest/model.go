// Package runtimetest holds the runtime's model-based test, importable so
// that every engine (including kv/tikvkv, a separate module) runs the same
// one: random puts, field sets, map edits and deletes are applied both to a
// protoql DB and to plain in-memory messages, and after every step every read
// must agree.
//
// The generated writes include the edge cases of docs/edge-cases.md:
// strings that are not valid UTF-8 (refused on the proto3 User table, stored
// on the proto2 Legacy table), unknown fields (stored when their number is
// free, refused when it is declared), and extensions (Legacy). A write the
// model expects refused must fail with runtime.ErrInvalid and change nothing.
package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/protoql/protoql/internal/apartpb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Model runs steps random operations on a DB over store, checking every
// read against the model after each one.
func Model(t *testing.T, store kv.Store, seed uint64, steps int) {
	run(t, store, seed, steps, false)
}

// ModelApart is Model on the table ApartUser, which is User with its
// password, sessions and counters stored apart from the row: the same
// operations must give the same reads, except that apart data does not
// make a row exist (a write under an apart field of a missing row creates
// the row's key instead).
func ModelApart(t *testing.T, store kv.Store, seed uint64, steps int) {
	run(t, store, seed, steps, true)
}

func run(t *testing.T, store kv.Store, seed uint64, steps int, apart bool) {
	ctx := context.Background()
	file, name := testpb.File_protoql_test_v1_social_proto, "User"
	if apart {
		file, name = apartpb.File_protoql_test_apart_v1_apart_proto, "ApartUser"
	}
	db, err := runtime.Open(ctx, store, runtime.WithSchema(file))
	if err != nil {
		t.Fatal(err)
	}
	users, err := db.Table(name)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), db: db, users: users, rows: map[string]*row{}, apart: apart}
	m.edge = newEdgeModel(t, store, m)
	for step := range steps {
		op := m.step(ctx)
		if t.Failed() {
			t.Fatalf("seed %d step %d (%s) failed", seed, step, op)
		}
		m.verify(ctx, fmt.Sprintf("seed %d step %d after %s", seed, step, op))
		if t.Failed() {
			t.FailNow()
		}
	}
}

// row is the model of one User row: its content plus which of its objects
// have their own key written, since an object exists iff any key in its
// range does.
type row struct {
	msg         *testpb.User
	rowKey      bool
	lastSeenKey bool
	passwordKey bool
	sessionKeys map[string]bool
}

type model struct {
	t     *testing.T
	rng   *rand.Rand
	db    *runtime.DB
	users *runtime.Table
	rows  map[string]*row
	edge  *edgeModel
	// apart is set when the table is ApartUser (see ModelApart).
	apart bool
}

// stored returns u as the table stores it: u itself, or the ApartUser
// with the same fields.
func (m *model) stored(u *testpb.User) proto.Message {
	if !m.apart {
		return u
	}
	return convert(u, &apartpb.ApartUser{})
}

// fromStored returns a stored row message as a User.
func fromStored(msg proto.Message) *testpb.User {
	if u, ok := msg.(*testpb.User); ok {
		return u
	}
	return convert(msg, &testpb.User{}).(*testpb.User)
}

// convert copies the fields of src into dst, a message with the same
// field numbers and types (User and ApartUser), and returns dst.
func convert(src, dst proto.Message) proto.Message {
	s, d := src.ProtoReflect(), dst.ProtoReflect()
	s.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		d.Set(d.Descriptor().Fields().ByNumber(fd.Number()), v)
		return true
	})
	d.SetUnknown(s.GetUnknown())
	return dst
}

// wroteApart records a write under an apart field of the row: it writes
// the row's key when nothing else of the row is stored.
func (m *model) wroteApart(r *row) {
	if m.apart && !r.colocated() {
		r.rowKey = true
	}
}

// ids and mapKeys include strings that are not valid UTF-8: every User
// write of one must be refused (proto3 strings are UTF-8).
var ids = []string{"", "a", "a\x00", "b", "\xff"}
var mapKeys = []string{"", "k", "k\x00", "z", "k\xff"}

// valid reports whether every string is valid UTF-8.
func valid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// marshals reports whether protobuf itself would encode msg: the oracle for
// what protoql must store (a proto3 message with an invalid string does not
// marshal).
func marshals(msg proto.Message) bool {
	_, err := proto.Marshal(msg)
	return err == nil
}

// outcome checks a write's error against what the model expects and
// reports whether the write happened: a refused write must fail cleanly
// with ErrInvalid.
func (m *model) outcome(err error, ok bool) bool {
	m.t.Helper()
	if ok {
		m.must(err)
		return true
	}
	if !errors.Is(err, runtime.ErrInvalid) {
		m.t.Fatalf("write: got %v, want a refusal wrapping runtime.ErrInvalid", err)
	}
	return false
}

// unknownField returns an unknown field with a free number (stored) or with
// the number of a declared field (refused), and whether it is free.
func (m *model) unknownField() ([]byte, bool) {
	num := []protowire.Number{40, 41, 2, 3}[m.rng.IntN(4)]
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, m.rng.Uint64N(3)), num >= 40
}

func (m *model) pick(xs []string) string { return xs[m.rng.IntN(len(xs))] }

func (m *model) must(err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
}

func (m *model) ref(id string) runtime.Ref {
	r, err := m.users.Row(protoreflect.ValueOfString(id))
	m.must(err)
	return r
}

func (m *model) sub(r runtime.Ref, path ...any) runtime.Ref {
	var err error
	for _, p := range path {
		switch p := p.(type) {
		case int:
			r, err = r.Field(protoreflect.FieldNumber(p))
		case string:
			r, err = r.Entry(protoreflect.ValueOfString(p))
		}
		m.must(err)
	}
	return r
}

// get returns the model row of id, creating it (with no keys) if missing.
func (m *model) get(id string) *row {
	r := m.rows[id]
	if r == nil {
		r = &row{msg: &testpb.User{UserId: id}, sessionKeys: map[string]bool{}}
		m.rows[id] = r
	}
	return r
}

func (m *model) session(r *row, k string) *testpb.Session {
	if r.msg.Sessions == nil {
		r.msg.Sessions = map[string]*testpb.Session{}
	}
	if r.msg.Sessions[k] == nil {
		r.msg.Sessions[k] = &testpb.Session{}
	}
	return r.msg.Sessions[k]
}

func (m *model) step(ctx context.Context) string {
	id := m.pick(ids)
	ref := m.ref(id)
	db := m.db
	switch op := m.rng.IntN(18); op {
	case 15, 16, 17:
		return m.edge.step(ctx)
	case 0, 1:
		u, ok := m.randomUser(id)
		if !m.outcome(db.Put(ctx, ref, m.stored(u)), ok && valid(id) && marshals(u)) {
			return "put row (refused)"
		}
		r := &row{msg: u, rowKey: true, lastSeenKey: u.LastSeenUs != 0, passwordKey: u.Password != nil, sessionKeys: map[string]bool{}}
		for k := range u.Sessions {
			r.sessionKeys[k] = true
		}
		m.rows[id] = r
		return "put row"
	case 2:
		m.must(db.Delete(ctx, ref))
		delete(m.rows, id)
		return "delete row"
	case 3:
		v := m.rng.Int64N(3)
		if !m.outcome(db.SetValue(ctx, m.sub(ref, 3), protoreflect.ValueOfInt64(v)), valid(id)) {
			return "set breakout (refused)"
		}
		r := m.get(id)
		r.lastSeenKey, r.msg.LastSeenUs = true, v
		return "set breakout"
	case 4:
		m.must(db.Delete(ctx, m.sub(ref, 3)))
		r := m.get(id)
		r.lastSeenKey, r.msg.LastSeenUs = false, 0
		return "delete breakout"
	case 5:
		v := m.pick(mapKeys)
		if !m.outcome(db.SetValue(ctx, m.sub(ref, 12), protoreflect.ValueOfString(v)), valid(id, v)) {
			return "set optional breakout (refused)"
		}
		m.get(id).msg.Nickname = proto.String(v)
		return "set optional breakout"
	case 6:
		v := m.rng.Uint64N(3)
		var unk []byte
		ok := valid(id)
		if m.rng.IntN(3) == 0 {
			var free bool
			unk, free = m.unknownField()
			ok = ok && free
		}
		err := db.UpdateInline(ctx, ref, func(msg protoreflect.Message) error {
			msg.Set(msg.Descriptor().Fields().ByName("registered"), protoreflect.ValueOfUint64(v))
			if unk != nil {
				msg.SetUnknown(unk)
			}
			return nil
		})
		if !m.outcome(err, ok) {
			return "mutate inline (refused)"
		}
		r := m.get(id)
		r.rowKey, r.msg.Registered = true, v
		if unk != nil {
			r.msg.ProtoReflect().SetUnknown(unk)
		}
		return "mutate inline"
	case 7:
		k := m.pick(mapKeys)
		s, ok := m.randomSession()
		if !m.outcome(db.Put(ctx, m.sub(ref, 5, k), s), ok && valid(id, k) && marshals(s)) {
			return "put map entry (refused)"
		}
		r := m.get(id)
		m.session(r, k)
		r.msg.Sessions[k], r.sessionKeys[k] = s, true
		m.wroteApart(r)
		return "put map entry"
	case 8:
		k := m.pick(mapKeys)
		m.must(db.Delete(ctx, m.sub(ref, 5, k)))
		r := m.get(id)
		delete(r.msg.Sessions, k)
		delete(r.sessionKeys, k)
		return "delete map entry"
	case 9:
		k, k2, v := m.pick(mapKeys), m.pick(mapKeys), m.pick(mapKeys)
		if !m.outcome(db.SetValue(ctx, m.sub(ref, 5, k, 3, k2), protoreflect.ValueOfString(v)), valid(id, k, k2, v)) {
			return "set nested scalar entry (refused)"
		}
		m.wroteApart(m.get(id))
		s := m.session(m.get(id), k)
		if s.Attrs == nil {
			s.Attrs = map[string]string{}
		}
		s.Attrs[k2] = v
		return "set nested scalar entry"
	case 10:
		k, k2 := m.pick(mapKeys), m.pick(mapKeys)
		m.must(db.Delete(ctx, m.sub(ref, 5, k, 3, k2)))
		if s := m.get(id).msg.Sessions[k]; s != nil {
			delete(s.Attrs, k2)
		}
		return "delete nested scalar entry"
	case 11:
		k := m.pick(mapKeys)
		g := &testpb.Geo{Lat: float64(m.rng.IntN(3))}
		if !m.outcome(db.Put(ctx, m.sub(ref, 5, k, 4), g), valid(id, k)) {
			return "put object in entry (refused)"
		}
		m.wroteApart(m.get(id))
		m.session(m.get(id), k).Geo = g
		return "put object in entry"
	case 12:
		k, v := m.pick(mapKeys), m.rng.Int64N(3)
		if !m.outcome(db.SetValue(ctx, m.sub(ref, 11, k), protoreflect.ValueOfInt64(v)), valid(id, k)) {
			return "set scalar map entry (refused)"
		}
		r := m.get(id)
		m.wroteApart(r)
		if r.msg.Counters == nil {
			r.msg.Counters = map[string]int64{}
		}
		r.msg.Counters[k] = v
		return "set scalar map entry"
	case 13:
		k := m.pick(mapKeys)
		if m.rng.IntN(2) == 0 {
			p := &testpb.Password{Hash: []byte(k)}
			if !m.outcome(db.Put(ctx, m.sub(ref, 4), p), valid(id)) {
				return "put object (refused)"
			}
			r := m.get(id)
			m.wroteApart(r)
			r.msg.Password, r.passwordKey = p, true
			return "put object"
		}
		if !m.outcome(db.SetValue(ctx, m.sub(ref, 4, 3, k), protoreflect.ValueOfBytes([]byte(k))), valid(id, k)) {
			return "set map entry in object (refused)"
		}
		r := m.get(id)
		m.wroteApart(r)
		if r.msg.Password == nil {
			r.msg.Password = &testpb.Password{}
		}
		if r.msg.Password.History == nil {
			r.msg.Password.History = map[string][]byte{}
		}
		r.msg.Password.History[k] = []byte(k)
		return "set map entry in object"
	default:
		m.must(db.Delete(ctx, m.sub(ref, 5)))
		r := m.get(id)
		r.msg.Sessions, r.sessionKeys = nil, map[string]bool{}
		return "delete whole map"
	}
}

// randomSession returns a session and whether its unknown fields (if
// any) may be stored.
func (m *model) randomSession() (*testpb.Session, bool) {
	s := &testpb.Session{ExpiresUs: m.rng.Int64N(3), Device: m.pick(mapKeys)}
	if m.rng.IntN(2) == 0 {
		s.Attrs = map[string]string{m.pick(mapKeys): m.pick(mapKeys)}
	}
	if m.rng.IntN(3) == 0 {
		s.Geo = &testpb.Geo{Lng: 1}
	}
	ok := true
	if m.rng.IntN(5) == 0 {
		var unk []byte
		unk, ok = m.unknownField()
		s.ProtoReflect().SetUnknown(unk)
	}
	return s, ok
}

// randomUser returns a user and whether its unknown fields (if any) may be
// stored.
func (m *model) randomUser(id string) (*testpb.User, bool) {
	u := &testpb.User{UserId: id}
	ok := true
	coin := func() bool { return m.rng.IntN(2) == 0 }
	if coin() {
		u.Registered = m.rng.Uint64()
	}
	if coin() {
		u.LastSeenUs = m.rng.Int64N(2)
	}
	if coin() {
		u.Password = &testpb.Password{ChangedUs: m.rng.Int64N(2)}
	}
	if coin() {
		u.Sessions = map[string]*testpb.Session{}
		storable := map[string]bool{}
		for range m.rng.IntN(3) {
			k := m.pick(mapKeys)
			u.Sessions[k], storable[k] = m.randomSession()
		}
		for _, sok := range storable {
			ok = ok && sok
		}
	}
	if coin() {
		u.Threads = map[string]*testpb.ThreadRef{m.pick(mapKeys): {LastReadUs: 1}}
	}
	if coin() {
		u.Emails = []string{m.pick(mapKeys), m.pick(mapKeys)}
	}
	if coin() {
		u.Created = timestamppb.New(timestamppb.Now().AsTime())
	}
	if coin() {
		u.Contact = &testpb.User_Phone{Phone: m.pick(mapKeys)}
	}
	if coin() {
		u.Counters = map[string]int64{m.pick(mapKeys): m.rng.Int64N(3)}
	}
	if coin() {
		u.Nickname = proto.String(m.pick(mapKeys))
	}
	if coin() {
		u.Profile = &testpb.Profile{Links: map[string]string{"a": "b"}}
	}
	if coin() {
		u.Settings = &testpb.Settings{FontSize: m.rng.Int32N(3)}
	}
	if coin() {
		u.Scores = map[int64]string{m.rng.Int64N(5) - 2: m.pick(mapKeys)}
	}
	if m.rng.IntN(5) == 0 {
		unk, free := m.unknownField()
		u.ProtoReflect().SetUnknown(unk)
		ok = ok && free
	}
	return u, ok
}

// colocated reports whether a key of the row's own range is stored: the
// row key or a breakout (threads and scores are only ever written with
// the row key, by a Put).
func (r *row) colocated() bool {
	return r.rowKey || r.lastSeenKey || r.msg.Nickname != nil || r.msg.Settings != nil
}

// view returns what a read of the row must return: the message with the
// objects that have no keys left pruned, or nil when the row has none
// (apart: when its own range has none).
func (r *row) view(apart bool) *testpb.User {
	u := proto.Clone(r.msg).(*testpb.User)
	for k, s := range u.Sessions {
		if !r.sessionKeys[k] && len(s.Attrs) == 0 && s.Geo == nil {
			delete(u.Sessions, k)
		}
	}
	if u.Password != nil && !r.passwordKey && len(u.Password.History) == 0 {
		u.Password = nil
	}
	exists := r.rowKey || r.lastSeenKey || u.Nickname != nil || u.Settings != nil || u.Password != nil ||
		len(u.Sessions) > 0 || len(u.Counters) > 0
	if apart {
		exists = r.colocated()
	}
	if !exists {
		return nil
	}
	return u
}

func (m *model) verify(ctx context.Context, where string) {
	m.t.Helper()
	var want []*testpb.User
	for _, id := range ids {
		var exp *testpb.User
		if r := m.rows[id]; r != nil {
			exp = r.view(m.apart)
		}
		stored := m.stored(&testpb.User{})
		err := m.db.Get(ctx, m.ref(id), stored)
		got := fromStored(stored)
		switch {
		case exp == nil && !errors.Is(err, runtime.ErrNotFound):
			m.t.Errorf("%s: Get(%q) = %v, %v; want not found", where, id, got, err)
		case exp != nil && err != nil:
			m.t.Errorf("%s: Get(%q): %v", where, id, err)
		case exp != nil:
			if diff := cmp.Diff(exp, got, protocmp.Transform()); diff != "" {
				m.t.Errorf("%s: Get(%q) (-want +got):\n%s", where, id, diff)
			}
			want = append(want, exp)
		}
	}
	slices.SortFunc(want, func(a, b *testpb.User) int { return compareStrings(a.UserId, b.UserId) })
	reverse := m.rng.IntN(2) == 0
	if reverse {
		slices.Reverse(want)
	}
	var got []*testpb.User
	for msg, err := range m.db.Scan(ctx, m.users, runtime.KeyRange{}, runtime.ScanOptions{Reverse: reverse}) {
		if err != nil {
			m.t.Errorf("%s: Scan: %v", where, err)
			return
		}
		got = append(got, fromStored(msg))
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		m.t.Errorf("%s: Scan(reverse=%v) (-want +got):\n%s", where, reverse, diff)
	}
	m.edge.verify(ctx, where)
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
