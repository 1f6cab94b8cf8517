package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// The queries the protoql implementation runs, compiled once.
const (
	// QuerySessionsText is the query workload of DESIGN.md §8.
	QuerySessionsText = `User[$id] { sessions(first: 10) { expires_us } }`
	// ScanNamesText is the projecting full scan.
	ScanNamesText = `User { display_name }`
	// GetText reads a whole user, like UserTable.Get.
	GetText = `User[$id]`
)

// Protoql is the generated API of the social example on a runtime.DB.
type Protoql struct {
	db       *runtime.DB
	users    socialpb.UserTable
	threads  socialpb.ThreadTable
	sessions *query.Query
	names    *query.Query
	whole    *query.Query
	vars     map[string]any
}

// NewProtoql returns the protoql implementation on db, which must have been
// opened with the social example's schema.
func NewProtoql(db *runtime.DB) (*Protoql, error) {
	users, err := socialpb.NewUserTable(db)
	if err != nil {
		return nil, err
	}
	threads, err := socialpb.NewThreadTable(db)
	if err != nil {
		return nil, err
	}
	sessions, err := query.Compile(db.Catalog(), QuerySessionsText)
	if err != nil {
		return nil, err
	}
	names, err := query.Compile(db.Catalog(), ScanNamesText)
	if err != nil {
		return nil, err
	}
	whole, err := query.Compile(db.Catalog(), GetText)
	if err != nil {
		return nil, err
	}
	return &Protoql{db: db, users: users, threads: threads, sessions: sessions, names: names, whole: whole, vars: map[string]any{}}, nil
}

// Name implements Impl.
func (p *Protoql) Name() string { return "protoql" }

// Close implements Impl.
func (p *Protoql) Close() error { return nil }

// Insert is UserTable.Put.
func (p *Protoql) Insert(ctx context.Context, u *socialpb.User) error { return p.users.Put(ctx, u) }

// Get is UserTable.Get.
func (p *Protoql) Get(ctx context.Context, id string) (*socialpb.User, error) {
	u, err := p.users.Get(ctx, id)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil, ErrNotFound
	}
	return u, err
}

// SetSessionExpiry is the generated inline setter of the map entry.
func (p *Protoql) SetSessionExpiry(ctx context.Context, id, sid string, v int64) error {
	return p.users.Row(id).Sessions().Entry(sid).ExpiresUs().Set(ctx, v)
}

// SetLastSeen is the generated breakout setter.
func (p *Protoql) SetLastSeen(ctx context.Context, id string, v int64) error {
	return p.users.Row(id).LastSeenUs().Set(ctx, v)
}

// QuerySessions runs the compiled QuerySessionsText.
func (p *Protoql) QuerySessions(ctx context.Context, id string) (*socialpb.User, error) {
	return p.queryUser(ctx, p.sessions, id)
}

// GetByQuery is Get through the compiled GetText, to compare a compiled
// query with the typed Get it is equivalent to.
func (p *Protoql) GetByQuery(ctx context.Context, id string) (*socialpb.User, error) {
	u, err := p.queryUser(ctx, p.whole, id)
	if err == nil && u == nil {
		err = ErrNotFound
	}
	return u, err
}

// queryUser runs a query rooted at User[$id] and returns its one result,
// or nil.
func (p *Protoql) queryUser(ctx context.Context, q *query.Query, id string) (*socialpb.User, error) {
	p.vars["id"] = id
	var out *socialpb.User
	for res, err := range p.db.Query(ctx, q, p.vars) {
		if err != nil {
			return nil, err
		}
		u, ok := res.Msg.(*socialpb.User)
		if !ok {
			return nil, fmt.Errorf("bench: query returned a %T", res.Msg)
		}
		out = u
	}
	return out, nil
}

// QuerySessionsTyped is the typed equivalent of QuerySessions: a scan of the
// first ten entries of the sessions map (whole entries: the typed API does
// not project). A scan that finds no entry cannot tell a user without
// sessions from a missing one, so it is followed by a scan of the user's
// key alone, as the query's plan and Raw.QuerySessions seek to the row's
// own keys only when the map has none.
func (p *Protoql) QuerySessionsTyped(ctx context.Context, id string) (*socialpb.User, error) {
	var u *socialpb.User
	for e, err := range p.users.Row(id).Sessions().Scan(ctx, runtime.ScanOptions{Limit: 10}) {
		if err != nil {
			return nil, err
		}
		if u == nil {
			u = &socialpb.User{UserId: id, Sessions: make(map[string]*socialpb.Session, 10)}
		}
		e.Value.Device = "" // the query selects expires_us only
		u.Sessions[e.Key] = e.Value
	}
	if u != nil {
		return u, nil
	}
	// The user's range is [id, id+"\x00"): no other string sorts between.
	for _, err := range p.users.Scan(ctx, socialpb.UserKeys().UserIdBetween(id, id+"\x00"), userKeyOnly) {
		if err != nil {
			return nil, err
		}
		u = &socialpb.User{UserId: id}
	}
	return u, nil
}

// userKeyOnly reads only the key of each row scanned.
var userKeyOnly = runtime.ScanOptions{Fields: []string{"user_id"}, Limit: 1}

// ScanNames is the projected typed scan UserTable.Scan with
// ScanOptions.Fields display_name (the query ScanNamesText reads the same
// keys): the sessions are seeked over, not read.
func (p *Protoql) ScanNames(ctx context.Context, fn func(id, name string)) error {
	for u, err := range p.users.Scan(ctx, nil, runtime.ScanOptions{Fields: scanNamesFields}) {
		if err != nil {
			return err
		}
		fn(u.UserId, u.DisplayName)
	}
	return nil
}

// ScanNamesReuse is ScanNames with ScanOptions.Reuse: every user comes in
// one message, valid until the next (the benchmark's "protoql alt" column
// of the scans).
func (p *Protoql) ScanNamesReuse(ctx context.Context, fn func(id, name string)) error {
	for u, err := range p.users.Scan(ctx, nil, runtime.ScanOptions{Fields: scanNamesFields, Reuse: true}) {
		if err != nil {
			return err
		}
		fn(u.UserId, u.DisplayName)
	}
	return nil
}

var scanNamesFields = []string{"display_name"}
