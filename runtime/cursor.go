package runtime

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
)

// Query cursors are tamper-checked with HMAC-SHA256 (truncated to
// query.CursorTagLen bytes) under a secret of the database: 32 random bytes
// stored under the metadata key "cursor-key" of the DB's namespace, read or
// created by Open. Storing it, rather than holding a per-process secret,
// keeps cursors valid across restarts and across every server sharing the
// store; keeping one per namespace means a tenant's cursor is refused by
// every other tenant. The MAC covers the query's fingerprint, the scan it
// resumes and the position, so a client can neither forge a position nor
// move a cursor to another query. The position is clamped to the query's
// key range besides, so even a leaked secret would not widen what a query
// reads. WithCursorKey supplies a secret kept outside the store instead
// (for rotation); newExec refuses one shorter than cursorKeyLen bytes, for
// the same reason Open refuses a short stored one.
//
// Open loads the secret so that no query ever writes: a query inside
// DB.Update, or beside another open transaction, must not wait for a write
// of its own. Open refuses a stored secret of any other length than the
// cursorKeyLen bytes it creates (protoql has never written another), as
// damaged metadata: an empty or short secret would make cursors easy to
// forge, and one of another length is not what protoql stored.
const (
	cursorKeyName = "cursor-key"
	cursorKeyLen  = 32
)

// checkCursorKey refuses a stored secret of the wrong length.
func checkCursorKey(name, key []byte) error {
	if len(key) == cursorKeyLen {
		return nil
	}
	return fmt.Errorf("%w: the cursor secret stored under the metadata key %q (%x) is %d bytes, want %d: the metadata is damaged (deleting that key makes Open create a new secret, which invalidates the cursors issued so far)",
		ErrCorrupt, cursorKeyName, name, len(key), cursorKeyLen)
}

// loadCursorKey reads the DB's cursor secret, creating it when the store
// has none. The creation is a read-write transaction, so handles opening
// the same new store at once agree on one secret.
func (db *DB) loadCursorKey(ctx context.Context) error {
	name := db.metaKey(cursorKeyName)
	key, err := db.store.Get(ctx, name)
	if err == nil {
		if err := checkCursorKey(name, key); err != nil {
			return err
		}
		db.cursorSecret = key
		return nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return fmt.Errorf("runtime: reading the cursor secret: %w", err)
	}
	err = db.store.Update(ctx, func(txn kv.Txn) error {
		k, err := txn.Get(ctx, name)
		switch {
		case err == nil:
			key = k
			return checkCursorKey(name, key)
		case !errors.Is(err, kv.ErrNotFound):
			return err
		}
		key = make([]byte, cursorKeyLen)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return txn.Set(name, key)
	})
	if err != nil {
		return fmt.Errorf("runtime: creating the cursor secret: %w", err)
	}
	db.cursorSecret = key
	return nil
}

// cursorSigner makes and checks cursors for one execution; not safe for
// concurrent use.
type cursorSigner struct {
	key  []byte
	mac  hash.Hash
	body []byte
	sum  []byte
}

func newCursorSigner(key []byte) *cursorSigner {
	return &cursorSigner{key: bytes.Clone(key), mac: hmac.New(sha256.New, key)}
}

func (s *cursorSigner) tag(body []byte) []byte {
	s.mac.Reset()
	s.mac.Write(body)
	s.sum = s.mac.Sum(s.sum[:0])
	return s.sum[:query.CursorTagLen]
}

// cursor returns the cursor resuming access a of plan p after key.
func (s *cursorSigner) cursor(p *query.Plan, a *query.Access, key []byte) string {
	s.body = query.AppendCursorBody(s.body[:0], p, a, key)
	return query.FormatCursor(s.body, s.tag(s.body))
}

// verify checks the tag of a cursor that Bind accepted.
func (s *cursorSigner) verify(ba *query.BoundAccess) error {
	if hmac.Equal(s.tag(ba.After.Body), ba.After.Tag) {
		return nil
	}
	return query.Errorf(ba.AfterPos, query.ErrCursor, "after: the cursor failed its integrity check: it was altered, or issued by another database")
}

// rowCursor is the cursor of a query result, signed only when asked for
// (Result.Cursor): computing an HMAC for every row that nobody resumes
// after cost a scan about a quarter of its CPU. It holds what the cursor
// signs, the plan and the position of the root scan, and the secret; or,
// when plan is nil, a cursor's finished text.
type rowCursor struct {
	secret []byte // the signer's copy of the key, never modified
	plan   *query.Plan
	pos    []byte // owned by the cursor (exec.keep)
	text   string
}

// String signs the cursor. It is safe for concurrent use.
func (c rowCursor) String() string {
	if c.plan == nil {
		return c.text
	}
	s, _ := signers.Get().(*cursorSigner)
	if s == nil || !bytes.Equal(s.key, c.secret) {
		s = newCursorSigner(c.secret)
	}
	cur := s.cursor(c.plan, c.plan.Root, c.pos)
	signers.Put(s)
	return cur
}

// signers recycles the signers of rowCursor.String.
var signers sync.Pool

// keep returns a copy of b that stays valid for the life of the results
// of this call: positions of lazy cursors are copied into chunks that
// grow up to maxKeepChunk, so a scan allocates about once per chunk, not
// once per row. A chunk is never reused by a later call. A point read
// (onePosition) keeps one position: its chunk is just that.
func (e *exec) keep(b []byte) []byte {
	if cap(e.kept)-len(e.kept) < len(b) {
		size := min(max(2*cap(e.kept), 256), maxKeepChunk)
		if e.onePosition && cap(e.kept) == 0 {
			size = len(b)
		}
		e.kept = make([]byte, 0, max(size, len(b)))
	}
	n := len(e.kept)
	e.kept = append(e.kept, b...)
	return e.kept[n:len(e.kept):len(e.kept)]
}

const maxKeepChunk = 8 << 10
