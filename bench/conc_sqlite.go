package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// sqlitePostsSchema holds the posts of threads, clustered on (thread,
// post); a thread needs no row of its own, as in protoql's layout.
const sqlitePostsSchema = `
CREATE TABLE IF NOT EXISTS posts (
  thread_id TEXT NOT NULL,
  post_id   INTEGER NOT NULL,
  author_id TEXT NOT NULL,
  text      TEXT NOT NULL,
  PRIMARY KEY (thread_id, post_id)
) WITHOUT ROWID;`

// The statements of the concurrency workloads.
const (
	sqlIncRegistered = `UPDATE users SET registered_us = registered_us + 1000000 WHERE user_id = ?`
	sqlInsertPost    = `INSERT INTO posts (thread_id, post_id, author_id, text) VALUES (?, ?, ?, ?)`
	sqlPosts         = `SELECT post_id, author_id, text FROM posts WHERE thread_id = ?`
)

// SQLitePool is the SQLite column of the concurrency workloads, on the same
// database file as SQLite: what a Go server on SQLite does. Reads go
// through a database/sql pool of connections that read in parallel (WAL
// mode: readers do not block the writer or each other). SQLite lets one
// connection write at a time, so writes go through a second pool of one
// connection: database/sql queues the goroutines waiting for it, the usual
// design of Go servers on SQLite. (Writers on many connections would
// instead meet on SQLite's write lock and wait in its busy handler, up to
// busy_timeout.) A transaction begins with BEGIN IMMEDIATE; a single UPDATE
// is atomic on its own.
type SQLitePool struct {
	read, write *sql.DB
	stmts       map[string]*sql.Stmt // prepared on their pool
	getW        *sql.Stmt            // sqlGetUser on the writing connection, for AddPost
}

// OpenSQLitePool opens the SQLite database at path (created by OpenSQLite)
// with up to readers reading connections, each with a page cache of
// cacheBytes (SQLite's page cache belongs to a connection), and one writing
// connection.
func OpenSQLitePool(path string, sync bool, cacheBytes int64, readers int) (*SQLitePool, error) {
	dsn := sqliteDSN(path, sync, cacheBytes)
	s := &SQLitePool{stmts: map[string]*sql.Stmt{}}
	var err error
	if s.read, err = sql.Open("sqlite", dsn); err != nil {
		return nil, err
	}
	s.read.SetMaxOpenConns(readers)
	s.read.SetMaxIdleConns(readers)
	s.read.SetConnMaxLifetime(0)
	if s.write, err = sql.Open("sqlite", dsn); err != nil {
		_ = s.read.Close()
		return nil, err
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	if _, err := s.write.Exec(sqlitePostsSchema); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("bench: sqlite posts schema: %w", err)
	}
	for db, texts := range map[*sql.DB][]string{
		s.read:  {sqlGetUser, sqlPosts},
		s.write: {sqlSetExpiry, sqlIncRegistered, sqlInsertPost, sqlGetUser},
	} {
		for _, text := range texts {
			st, err := db.Prepare(text)
			if err != nil {
				_ = s.Close()
				return nil, fmt.Errorf("bench: sqlite prepare %q: %w", text, err)
			}
			if db == s.write && text == sqlGetUser {
				s.getW = st
				continue
			}
			s.stmts[text] = st
		}
	}
	return s, nil
}

// Name implements ConcImpl.
func (s *SQLitePool) Name() string { return "sqlite" }

// Close closes both pools.
func (s *SQLitePool) Close() error {
	for _, st := range s.stmts {
		_ = st.Close()
	}
	if s.getW != nil {
		_ = s.getW.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// Get reads the user and its sessions with one join, on a reading
// connection.
func (s *SQLitePool) Get(ctx context.Context, id string) (*socialpb.User, error) {
	rows, err := s.stmts[sqlGetUser].QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	return scanUser(rows, id)
}

// SetSessionExpiry is one UPDATE on the writing connection.
func (s *SQLitePool) SetSessionExpiry(ctx context.Context, id, sid string, v int64) error {
	return exec1(s.stmts[sqlSetExpiry].ExecContext(ctx, v, id, sid))
}

// IncRegistered is one UPDATE … SET registered_us = registered_us + 1000000
// on the writing connection: SQL's read-modify-write, atomic in itself.
func (s *SQLitePool) IncRegistered(ctx context.Context, id string) (int, error) {
	return 0, exec1(s.stmts[sqlIncRegistered].ExecContext(ctx, id))
}

// AddPost is one transaction (BEGIN IMMEDIATE) on the writing connection:
// the join of Get, then an INSERT of the post.
func (s *SQLitePool) AddPost(ctx context.Context, tid string, seq int64, id string) (int, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	err = s.addPostTx(ctx, tx, tid, seq, id)
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	return 0, tx.Commit()
}

func (s *SQLitePool) addPostTx(ctx context.Context, tx *sql.Tx, tid string, seq int64, id string) error {
	rows, err := tx.StmtContext(ctx, s.getW).QueryContext(ctx, id)
	if err != nil {
		return err
	}
	u, err := scanUser(rows, id)
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, s.stmts[sqlInsertPost]).ExecContext(ctx, tid, seq, id, u.DisplayName)
	return err
}

// Posts selects the thread's posts.
func (s *SQLitePool) Posts(ctx context.Context, tid string) (map[int64]*socialpb.Post, error) {
	rows, err := s.stmts[sqlPosts].QueryContext(ctx, tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]*socialpb.Post{}
	for rows.Next() {
		var k int64
		p := &socialpb.Post{}
		if err := rows.Scan(&k, &p.AuthorId, &p.Text); err != nil {
			return nil, err
		}
		out[k] = p
	}
	return out, rows.Err()
}
