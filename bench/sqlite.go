package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"github.com/protoql/protoql/examples/social/socialpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// sqliteSchema normalizes User: one users row, one sessions row per
// session, both clustered on their primary key (WITHOUT ROWID), which is
// SQLite's best layout for these lookups.
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS users (
  user_id       TEXT PRIMARY KEY,
  display_name  TEXT NOT NULL,
  registered_us INTEGER,
  last_seen_us  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
  user_id    TEXT NOT NULL,
  session_id TEXT NOT NULL,
  expires_us INTEGER NOT NULL,
  device     TEXT NOT NULL,
  PRIMARY KEY (user_id, session_id)
) WITHOUT ROWID;`

// The statements, prepared once.
const (
	sqlDeleteSessions = `DELETE FROM sessions WHERE user_id = ?`
	sqlUpsertUser     = `INSERT OR REPLACE INTO users (user_id, display_name, registered_us, last_seen_us) VALUES (?, ?, ?, ?)`
	sqlInsertSession  = `INSERT INTO sessions (user_id, session_id, expires_us, device) VALUES (?, ?, ?, ?)`
	sqlGetUser        = `SELECT u.display_name, u.registered_us, u.last_seen_us, s.session_id, s.expires_us, s.device
FROM users u LEFT JOIN sessions s ON s.user_id = u.user_id WHERE u.user_id = ?`
	sqlSetExpiry   = `UPDATE sessions SET expires_us = ? WHERE user_id = ? AND session_id = ?`
	sqlSetLastSeen = `UPDATE users SET last_seen_us = ? WHERE user_id = ?`
	sqlQuery       = `SELECT s.session_id, s.expires_us
FROM users u LEFT JOIN sessions s ON s.user_id = u.user_id WHERE u.user_id = ? ORDER BY s.session_id LIMIT 10`
	sqlScanNames = `SELECT user_id, display_name FROM users ORDER BY user_id`
)

// SQLite is modernc.org/sqlite through database/sql on normalized tables,
// with prepared statements, in WAL mode, on one connection.
type SQLite struct {
	db    *sql.DB
	stmts map[string]*sql.Stmt
}

// OpenSQLite opens (creating) the SQLite database at path. sync selects
// synchronous=FULL (every commit fsyncs the WAL) instead of NORMAL (no
// fsync on commit; see the package doc). cacheBytes sizes the page cache
// like Pebble's block cache.
func OpenSQLite(path string, sync bool, cacheBytes int64) (*SQLite, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path, sync, cacheBytes))
	if err != nil {
		return nil, err
	}
	// One connection: the workloads are serial, and prepared statements
	// then stay prepared on it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s := &SQLite{db: db, stmts: map[string]*sql.Stmt{}}
	if _, err := db.Exec(sqliteSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bench: sqlite schema: %w", err)
	}
	for _, text := range []string{sqlDeleteSessions, sqlUpsertUser, sqlInsertSession, sqlGetUser, sqlSetExpiry, sqlSetLastSeen, sqlQuery, sqlScanNames} {
		st, err := db.Prepare(text)
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("bench: sqlite prepare %q: %w", text, err)
		}
		s.stmts[text] = st
	}
	return s, nil
}

// sqliteDSN is the data source name of every connection: WAL mode, the
// durability and page cache asked for, a busy timeout, and BEGIN IMMEDIATE
// for transactions (a transaction that will write takes the write lock at
// its start, so that two of them never deadlock upgrading their locks).
func sqliteDSN(path string, sync bool, cacheBytes int64) string {
	mode := "NORMAL"
	if sync {
		mode = "FULL"
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+mode+")")
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cacheBytes/1024))
	q.Add("_pragma", "busy_timeout(5000)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// DB returns the database, for loading and diagnostics.
func (s *SQLite) DB() *sql.DB { return s.db }

// Name implements Impl.
func (s *SQLite) Name() string { return "sqlite" }

// Close implements Impl.
func (s *SQLite) Close() error {
	for _, st := range s.stmts {
		_ = st.Close()
	}
	return s.db.Close()
}

func micros(t *timestamppb.Timestamp) any {
	if t == nil {
		return nil
	}
	return t.Seconds*1_000_000 + int64(t.Nanos)/1000
}

func timestamp(us sql.NullInt64) *timestamppb.Timestamp {
	if !us.Valid {
		return nil
	}
	sec, rem := us.Int64/1_000_000, us.Int64%1_000_000
	if rem < 0 {
		sec, rem = sec-1, rem+1_000_000
	}
	return &timestamppb.Timestamp{Seconds: sec, Nanos: int32(rem) * 1000}
}

// Insert replaces the user in one transaction: delete its sessions, upsert
// the users row, insert each session.
func (s *SQLite) Insert(ctx context.Context, u *socialpb.User) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := s.insertTx(ctx, tx, u, true); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// insertTx writes u in tx, first deleting its sessions when replace is
// set (a bulk load of new users skips it).
func (s *SQLite) insertTx(ctx context.Context, tx *sql.Tx, u *socialpb.User, replace bool) error {
	if replace {
		if _, err := tx.StmtContext(ctx, s.stmts[sqlDeleteSessions]).ExecContext(ctx, u.UserId); err != nil {
			return err
		}
	}
	if _, err := tx.StmtContext(ctx, s.stmts[sqlUpsertUser]).ExecContext(ctx, u.UserId, u.DisplayName, micros(u.Registered), u.LastSeenUs); err != nil {
		return err
	}
	ins := tx.StmtContext(ctx, s.stmts[sqlInsertSession])
	for sid, ss := range u.Sessions {
		if _, err := ins.ExecContext(ctx, u.UserId, sid, ss.ExpiresUs, ss.Device); err != nil {
			return err
		}
	}
	return nil
}

// Get reads the user and its sessions with one join.
func (s *SQLite) Get(ctx context.Context, id string) (*socialpb.User, error) {
	rows, err := s.stmts[sqlGetUser].QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	return scanUser(rows, id)
}

// scanUser reads the rows of sqlGetUser into user id and closes them.
func scanUser(rows *sql.Rows, id string) (*socialpb.User, error) {
	defer rows.Close()
	var u *socialpb.User
	for rows.Next() {
		var (
			name        string
			reg         sql.NullInt64
			lastSeen    int64
			sid, device sql.NullString
			expires     sql.NullInt64
		)
		if err := rows.Scan(&name, &reg, &lastSeen, &sid, &expires, &device); err != nil {
			return nil, err
		}
		if u == nil {
			u = &socialpb.User{UserId: id, DisplayName: name, Registered: timestamp(reg), LastSeenUs: lastSeen}
		}
		if sid.Valid {
			if u.Sessions == nil {
				u.Sessions = make(map[string]*socialpb.Session, SessionsPerUser)
			}
			u.Sessions[sid.String] = &socialpb.Session{ExpiresUs: expires.Int64, Device: device.String}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if u == nil {
		return nil, ErrNotFound
	}
	return u, nil
}

// SetSessionExpiry is one UPDATE of the sessions row.
func (s *SQLite) SetSessionExpiry(ctx context.Context, id, sid string, v int64) error {
	return exec1(s.stmts[sqlSetExpiry].ExecContext(ctx, v, id, sid))
}

// SetLastSeen is one UPDATE of the users row.
func (s *SQLite) SetLastSeen(ctx context.Context, id string, v int64) error {
	return exec1(s.stmts[sqlSetLastSeen].ExecContext(ctx, v, id))
}

// exec1 checks that an UPDATE changed one row.
func exec1(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n != 1 {
		err = fmt.Errorf("bench: sqlite update changed %d rows, want 1", n)
	}
	return err
}

// QuerySessions is one join, ordered and limited.
func (s *SQLite) QuerySessions(ctx context.Context, id string) (*socialpb.User, error) {
	rows, err := s.stmts[sqlQuery].QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var u *socialpb.User
	for rows.Next() {
		var sid sql.NullString
		var expires sql.NullInt64
		if err := rows.Scan(&sid, &expires); err != nil {
			return nil, err
		}
		if u == nil {
			u = &socialpb.User{UserId: id}
		}
		if sid.Valid {
			if u.Sessions == nil {
				u.Sessions = make(map[string]*socialpb.Session, 10)
			}
			u.Sessions[sid.String] = &socialpb.Session{ExpiresUs: expires.Int64}
		}
	}
	return u, rows.Err()
}

// ScanNames selects the key and the one column.
func (s *SQLite) ScanNames(ctx context.Context, fn func(id, name string)) error {
	rows, err := s.stmts[sqlScanNames].QueryContext(ctx)
	if err != nil {
		return err
	}
	defer rows.Close()
	var id, name string
	for rows.Next() {
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		fn(id, name)
	}
	return rows.Err()
}

// Load inserts users [0, n) of gen in transactions of batch users.
func (s *SQLite) Load(ctx context.Context, n, batch int, gen func(i int) *socialpb.User) error {
	for lo := 0; lo < n; lo += batch {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i := lo; i < min(n, lo+batch); i++ {
			if err := s.insertTx(ctx, tx, gen(i), false); err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
