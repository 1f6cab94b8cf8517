package bench

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/bench/apartpb"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
)

// The apart layout (the scan-apart workload). The same users are stored a
// second time, in a Pebble store of their own, by the schema of
// bench/proto/protoql/bench/v1/apart.proto: the social example's User with
// its sessions stored apart from the row ((protoql.v1.field).apart), so the
// users' own range holds only the row keys and last_seen_us, and a scan of
// the users never steps over sessions. protoql and raw Pebble scan that
// store; SQLite's normalized tables already keep the sessions in a table of
// their own, so its column scans the same tables as the scan workload.

// apartSessionsPrefix starts every session key in the apart layout: table
// 1's apart element for field 6 (schema.Table.AppendApartPrefix).
var apartSessionsPrefix = tuple.AppendUint(nil, userTable, tuple.Asc, fSessions)

// Scanner is the one operation of the apart layout's columns.
type Scanner interface {
	// ScanNames is Impl.ScanNames.
	ScanNames(ctx context.Context, fn func(id, name string)) error
}

// encodeUserApart calls set for every pair protoql's Put writes for u on
// the apart layout (TestRawApartLayout checks it): encodeUser's pairs, with
// the session keys moved to the sessions' own space.
func encodeUserApart(u *socialpb.User, set func(k, v []byte) error) error {
	row := rowKey(nil, u.UserId)
	var k []byte
	return encodeUser(u, func(key, v []byte) error {
		if len(key) > len(row) && bytes.HasPrefix(key[len(row):], sessionsTag) {
			k = append(append(k[:0], apartSessionsPrefix...), key[len(tablePrefix):]...)
			return set(k, v)
		}
		return set(key, v)
	})
}

// ProtoqlApart is protoql on the apart layout's store.
type ProtoqlApart struct {
	db    *runtime.DB
	users apartpb.UserTable
}

// NewProtoqlApart returns protoql on db, opened with the apart schema.
func NewProtoqlApart(db *runtime.DB) (*ProtoqlApart, error) {
	users, err := apartpb.NewUserTable(db)
	if err != nil {
		return nil, err
	}
	return &ProtoqlApart{db: db, users: users}, nil
}

// Insert stores u (a social example User) as an apart-layout User.
func (p *ProtoqlApart) Insert(ctx context.Context, u *socialpb.User) error {
	au, err := apartUser(u)
	if err != nil {
		return err
	}
	return p.users.Put(ctx, au)
}

// Put stores u with the generated Put: it replaces the row, deleting the
// row's range and the range of its sessions stored apart, then writes u.
func (p *ProtoqlApart) Put(ctx context.Context, u *apartpb.User) error {
	return p.users.Put(ctx, u)
}

// apartUser converts u to the apart schema's User (same field numbers and
// types) through the wire format.
func apartUser(u *socialpb.User) (*apartpb.User, error) {
	b, err := proto.Marshal(u)
	if err != nil {
		return nil, err
	}
	au := &apartpb.User{}
	if err := proto.Unmarshal(b, au); err != nil {
		return nil, err
	}
	return au, nil
}

// PutApart does on the apart layout's store (r is Env.RawApart) the key
// operations of ProtoqlApart.Put: it deletes the user's row range and its
// sessions' apart range as pebblekv carries out protoql's two range
// deletions (a point delete per key, up to rowDeleteKeys keys a range:
// deleteRow), then writes u's pairs (encodeUserApart), in one batch.
// TestRawPutApart checks that it leaves the store as protoql's Put does.
func (r *Raw) PutApart(_ context.Context, u *socialpb.User) error {
	defer r.lock(u.UserId).Unlock()
	b := r.db.NewBatch()
	defer b.Close()
	var kb [64]byte
	row := rowKey(kb[:0], u.UserId)
	if err := r.deleteRow(b, row); err != nil {
		return err
	}
	var ab [64]byte
	if err := r.deleteRow(b, append(append(ab[:0], apartSessionsPrefix...), row[len(tablePrefix):]...)); err != nil {
		return err
	}
	if err := encodeUserApart(u, func(k, v []byte) error { return b.Set(k, v, nil) }); err != nil {
		return err
	}
	return b.Commit(r.wo)
}

// ScanNames scans the apart layout's users with the projected typed scan,
// as Protoql.ScanNames does on the colocated layout.
func (p *ProtoqlApart) ScanNames(ctx context.Context, fn func(id, name string)) error {
	for u, err := range p.users.Scan(ctx, nil, runtime.ScanOptions{Fields: scanNamesFields}) {
		if err != nil {
			return err
		}
		fn(u.UserId, u.DisplayName)
	}
	return nil
}

// ScanNamesReuse is ScanNames with ScanOptions.Reuse, as
// Protoql.ScanNamesReuse.
func (p *ProtoqlApart) ScanNamesReuse(ctx context.Context, fn func(id, name string)) error {
	for u, err := range p.users.Scan(ctx, nil, runtime.ScanOptions{Fields: scanNamesFields, Reuse: true}) {
		if err != nil {
			return err
		}
		fn(u.UserId, u.DisplayName)
	}
	return nil
}

// openApart opens the apart layout's store under dir with the Pebble
// options of the others, and its protoql and raw columns.
func (e *Env) openApart(ctx context.Context, dir string, opts []pebblekv.Option, wo *pebble.WriteOptions) error {
	var err error
	if e.apartKV, err = pebblekv.Open(filepath.Join(dir, "protoql-apart"), opts...); err != nil {
		return err
	}
	db, err := runtime.Open(ctx, e.apartKV, runtime.WithSchema(apartpb.File_protoql_bench_v1_apart_proto))
	if err != nil {
		return err
	}
	if e.ProtoqlApart, err = NewProtoqlApart(db); err != nil {
		return err
	}
	e.RawApart = NewRaw(e.apartKV.DB(), wo)
	e.RawApart.rowKeys = 2 // the row and last_seen_us: sessions are apart
	return nil
}

// loadApart bulk-loads users [0, n) of gen into the apart layout's store
// through the raw encoder.
func (e *Env) loadApart(n int, gen func(i int) *socialpb.User) error {
	l := newPebbleLoader(e.apartKV.DB())
	for i := range n {
		if err := encodeUserApart(gen(i), l.set); err != nil {
			return err
		}
	}
	return l.close()
}

// scanApartOp is scanOp on the column's apart layout; the alt column's
// is ProtoqlApart.ScanNamesReuse.
func scanApartOp(c Column, users int) Op {
	if c.Apart == nil {
		return nil
	}
	var sc Scanner = c.Apart
	if c.Variant != "" {
		p, ok := c.Apart.(*ProtoqlApart)
		if !ok {
			return nil
		}
		sc = reuseScanner{p}
	}
	return scanOp(Column{Name: c.Name, Impl: scanOnly{sc}}, users)
}

// reuseScanner is a ProtoqlApart whose ScanNames is ScanNamesReuse.
type reuseScanner struct{ p *ProtoqlApart }

func (r reuseScanner) ScanNames(ctx context.Context, fn func(id, name string)) error {
	return r.p.ScanNamesReuse(ctx, fn)
}

// scanOnly adapts a Scanner to the Impl that scanOp calls ScanNames on.
type scanOnly struct{ Scanner }

func (scanOnly) Name() string                                                  { return "scan only" }
func (scanOnly) Insert(context.Context, *socialpb.User) error                  { return errScanOnly }
func (scanOnly) Get(context.Context, string) (*socialpb.User, error)           { return nil, errScanOnly }
func (scanOnly) SetSessionExpiry(context.Context, string, string, int64) error { return errScanOnly }
func (scanOnly) SetLastSeen(context.Context, string, int64) error              { return errScanOnly }
func (scanOnly) QuerySessions(context.Context, string) (*socialpb.User, error) {
	return nil, errScanOnly
}
func (scanOnly) Close() error { return nil }

var errScanOnly = errors.New("bench: the apart layout's columns only scan")
