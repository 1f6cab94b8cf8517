package bench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/bench/indexpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
)

// The index workloads (the "Indexes" section of the report) run on three
// tables that differ only in their secondary indexes
// (proto/protoql/bench/index/v1/index.proto): Account0 has none, Account1 a
// unique index on email, Account3 the unique email index plus indexes on
// name and on country. Each column has stores of its own:
//
//   - protoql: the generated API on pebblekv: Account1Table.ByEmail().Get,
//     Account3Table.ByCountry().Find, AccountNTable.Put;
//   - protoql-alt: the query Account1.by_email[$email] for the lookup;
//   - raw: hand-written code on a second Pebble store doing protoql's key
//     operations: the two-step read (index key, then the row), and for a
//     write the read of the old row, the unique check, the row and the
//     changed index entries in one batch. TestIndexImplsAgree checks that it
//     leaves byte for byte the pairs protoql leaves;
//   - sqlite: the same three tables with 0, 1 and 3 indexes (a UNIQUE one on
//     email), prepared statements, the same settings as the other SQLite
//     column.

// Acct is one account, whichever table holds it.
type Acct struct {
	ID, Email, Name, Country string
	Score                    int64
}

// IndexCounts are the index counts of the three tables.
var IndexCounts = []int{0, 1, 3}

// DefaultIndexRows is the number of rows of each table in the report.
const DefaultIndexRows = 10_000

// rowsPerCountry is how many loaded rows share a country: what a
// non-unique lookup finds.
const rowsPerCountry = 10

// IdxAcct is loaded row r of a data set of rows rows.
func IdxAcct(r, rows int) Acct {
	return Acct{
		ID:      padID("acct", r, 7),
		Email:   padID("user", r, 7) + "@example.com",
		Name:    fmt.Sprintf("name %d", r),
		Country: country(r, rows),
		Score:   int64(r),
	}
}

func countries(rows int) int { return max(1, rows/rowsPerCountry) }

func country(r, rows int) string { return padID("c", r%countries(rows), 5) }

// IdxInsertAcct is new row number i: its id, "new" and i in 10 digits, and
// its email sort in the order of i, after the loaded rows' ids and before
// their emails.
func IdxInsertAcct(i, rows int) Acct {
	return Acct{ID: padID("new", i, 10), Email: padID("new", i, 10) + "@example.com", Name: fmt.Sprintf("name new %d", i), Country: country(i, rows), Score: int64(i)}
}

// IdxUpdateAcct is what update operation i writes: loaded row mix(i)
// with new values in every indexed field (a new email, name and country)
// and the score.
func IdxUpdateAcct(i, rows int) Acct {
	r := int(mix(i) % uint64(rows))
	a := IdxAcct(r, rows)
	a.Email = fmt.Sprintf("user%07d.%d@example.com", r, i)
	a.Name = fmt.Sprintf("name %d.%d", r, i)
	off := 1 // a country other than the loaded one
	if c := countries(rows); c > 1 {
		off += i % (c - 1)
	}
	a.Country = country(r+off, rows)
	a.Score = int64(i)
	return a
}

// IndexImpl is one column of the index workloads.
type IndexImpl interface {
	// Insert adds a to the table with n indexes (a's id is new).
	Insert(ctx context.Context, n int, a Acct) error
	// Update replaces the row of a's id, which exists, in the table with n
	// indexes.
	Update(ctx context.Context, n int, a Acct) error
	// ByEmail returns the row of Account1 whose email is email, through
	// its unique index; ErrNotFound if none.
	ByEmail(ctx context.Context, email string) (Acct, error)
	// ByCountry calls fn with each row of Account3 whose country is c, in
	// the order of their ids.
	ByCountry(ctx context.Context, c string, fn func(Acct)) error
}

// IndexEnv is the stores of the index workloads.
type IndexEnv struct {
	Rows    int
	pqKV    *pebblekv.Store
	rawKV   *pebblekv.Store
	pqDB    *runtime.DB
	Protoql *IdxProtoql
	Alt     *IdxProtoql // the lookup through a compiled query
	Raw     *IdxRaw
	SQLite  *IdxSQLite
}

// OpenIndexEnv opens (creating) the index stores under dir and loads rows
// rows into each table of each column.
func OpenIndexEnv(ctx context.Context, dir string, rows int, o EnvOptions) (env *IndexEnv, err error) {
	o = o.withDefaults()
	env = &IndexEnv{Rows: rows}
	defer func() {
		if err != nil {
			_ = env.Close()
		}
	}()
	opts := o.pebbleOptions()
	if env.pqKV, err = pebblekv.Open(filepath.Join(dir, "protoql"), opts...); err != nil {
		return nil, err
	}
	if env.rawKV, err = pebblekv.Open(filepath.Join(dir, "raw"), opts...); err != nil {
		return nil, err
	}
	if env.pqDB, err = runtime.Open(ctx, env.pqKV, runtime.WithSchema(indexpb.File_protoql_bench_index_v1_index_proto)); err != nil {
		return nil, err
	}
	if env.Protoql, err = newIdxProtoql(env.pqDB, false); err != nil {
		return nil, err
	}
	if env.Alt, err = newIdxProtoql(env.pqDB, true); err != nil {
		return nil, err
	}
	wo := pebble.NoSync
	if o.Sync {
		wo = pebble.Sync
	}
	env.Raw = &IdxRaw{db: env.rawKV.DB(), wo: wo}
	if env.SQLite, err = openIdxSQLite(filepath.Join(dir, "sqlite.db"), o.Sync, o.CacheBytes); err != nil {
		return nil, err
	}
	if err := env.load(ctx); err != nil {
		return nil, fmt.Errorf("bench: loading the index tables: %w", err)
	}
	return env, env.Settle()
}

// load writes rows rows into every table: the Pebble stores get the
// pairs protoql's Put writes (TestIndexImplsAgree checks that the raw
// column writes the same pairs as protoql and that protoql reads the
// loaded rows through its indexes) in large batches, SQLite one
// transaction per table.
func (e *IndexEnv) load(ctx context.Context) error {
	for _, s := range []*pebblekv.Store{e.pqKV, e.rawKV} {
		l := newPebbleLoader(s.DB())
		var v []byte
		for _, n := range IndexCounts {
			for r := range e.Rows {
				a := IdxAcct(r, e.Rows)
				var err error
				if v, err = idxRowValue(v[:0], a); err != nil {
					return err
				}
				if err := l.set(idxRowKey(n, a.ID), v); err != nil {
					return err
				}
				for _, p := range idxEntries(n, a) {
					if err := l.set(p.k, p.v); err != nil {
						return err
					}
				}
			}
		}
		if err := l.close(); err != nil {
			return err
		}
	}
	for _, n := range IndexCounts {
		tx, err := e.SQLite.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st := tx.StmtContext(ctx, e.SQLite.insert[n])
		for r := range e.Rows {
			a := IdxAcct(r, e.Rows)
			if _, err := st.ExecContext(ctx, a.ID, a.Email, a.Name, a.Country, a.Score); err != nil {
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

// Settle flushes and waits for compactions, and checkpoints SQLite (see
// Env.Settle).
func (e *IndexEnv) Settle() error {
	for _, s := range []*pebblekv.Store{e.pqKV, e.rawKV} {
		if err := s.DB().Flush(); err != nil {
			return err
		}
		waitCompactions(s)
	}
	_, err := e.SQLite.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// Close closes the stores.
func (e *IndexEnv) Close() error {
	var errs []error
	if e.SQLite != nil {
		errs = append(errs, e.SQLite.db.Close())
	}
	for _, s := range []*pebblekv.Store{e.pqKV, e.rawKV} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// IndexColumn is one column of the Indexes section.
type IndexColumn struct {
	Name    string
	Impl    IndexImpl
	Written func() uint64 // the engine's bytes written so far
}

// Columns returns the columns in report order.
func (e *IndexEnv) Columns() []IndexColumn {
	pq := func() uint64 { return e.pqKV.Metrics().WAL.BytesWritten }
	return []IndexColumn{
		{"protoql", e.Protoql, pq},
		{"protoql-alt", e.Alt, pq},
		{"raw", e.Raw, func() uint64 { return e.rawKV.Metrics().WAL.BytesWritten }},
		{"sqlite", e.SQLite, procWriteBytes},
	}
}

// IndexWorkload is one operation of the Indexes section.
type IndexWorkload struct {
	Key, Title string
	// Op returns the operation for c on tables of rows rows; nil when c
	// does not run it.
	Op func(c IndexColumn, rows int) Op
}

// IndexWorkloads run in this order: the reads on the loaded tables, then
// the updates, the inserts last.
var IndexWorkloads = func() []IndexWorkload {
	ws := []IndexWorkload{
		{Key: "idx-get", Title: "find one row by a unique index: Account1.by_email (alt: the query " + ByEmailText + ")", Op: byEmailOp},
		{Key: "idx-find", Title: fmt.Sprintf("find the %d rows of a country: Account3.by_country, not unique", rowsPerCountry), Op: byCountryOp},
	}
	for _, n := range IndexCounts {
		ws = append(ws, IndexWorkload{Key: fmt.Sprintf("update-%d", n), Title: "replace a row, changing every indexed field, " + nIndexes(n), Op: writeOp(n, true)})
	}
	for _, n := range IndexCounts {
		ws = append(ws, IndexWorkload{Key: fmt.Sprintf("insert-%d", n), Title: "insert a row, " + nIndexes(n), Op: writeOp(n, false)})
	}
	return ws
}()

func nIndexes(n int) string {
	if n == 1 {
		return "1 index"
	}
	return fmt.Sprintf("%d indexes", n)
}

func byEmailOp(c IndexColumn, rows int) Op {
	return func(ctx context.Context, i int) error {
		want := IdxAcct(int(mix(i)%uint64(rows)), rows)
		got, err := c.Impl.ByEmail(ctx, want.Email)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("by_email[%q]: got %+v, want %+v", want.Email, got, want)
		}
		return nil
	}
}

func byCountryOp(c IndexColumn, rows int) Op {
	if c.Name == "protoql-alt" {
		return nil
	}
	return func(ctx context.Context, i int) error {
		cn := country(int(mix(i)%uint64(countries(rows))), rows)
		n, bad := 0, 0
		err := c.Impl.ByCountry(ctx, cn, func(a Acct) {
			n++
			if a.Country != cn {
				bad++
			}
		})
		if err == nil && (bad > 0 || n != min(rows, rowsPerCountry)) {
			err = fmt.Errorf("by_country[%q]: %d rows, %d of another country; want %d", cn, n, bad, min(rows, rowsPerCountry))
		}
		return err
	}
}

func writeOp(n int, update bool) func(c IndexColumn, rows int) Op {
	return func(c IndexColumn, rows int) Op {
		if c.Name == "protoql-alt" {
			return nil
		}
		if update {
			return func(ctx context.Context, i int) error { return c.Impl.Update(ctx, n, IdxUpdateAcct(i, rows)) }
		}
		return func(ctx context.Context, _ int) error {
			return c.Impl.Insert(ctx, n, IdxInsertAcct(int(idxInsertSeq.Add(1)), rows))
		}
	}
}

// idxInsertSeq numbers the rows the insert workloads add, every column's,
// in the order the inserts run, so that each insert's row and index
// entries sort after those of every insert before it in its store. Numbered
// by the operation number, the rows of each repetition (which draws its
// stretch of numbers below the calibration's, 900,000,000 on) sorted
// before the calibration's: once a store flushed its memtable during the
// workload, every later insert landed inside the key range of the flushed
// files, so the column that wrote more (raw, the faster one) paid 4 more
// block-cache lookups per insert in the repetitions after its flush
// (insert-1 and insert-3 at the op counts of the report's run; see
// bench/README.md, "Indexes").
var idxInsertSeq atomic.Int64

// ByEmailText is the alt column's lookup.
const ByEmailText = `Account1.by_email[$email]`

// IdxProtoql is the generated API on the index tables.
type IdxProtoql struct {
	db    *runtime.DB
	t0    indexpb.Account0Table
	t1    indexpb.Account1Table
	t3    indexpb.Account3Table
	q     *query.Query // ByEmailText, for the alt column
	vars  map[string]any
	byQ   bool
	email runtime.TableIndex[string, *indexpb.Account1]
	ctry  runtime.TableIndex[string, *indexpb.Account3]
}

func newIdxProtoql(db *runtime.DB, byQuery bool) (*IdxProtoql, error) {
	p := &IdxProtoql{db: db, byQ: byQuery, vars: map[string]any{}}
	var err error
	if p.t0, err = indexpb.NewAccount0Table(db); err != nil {
		return nil, err
	}
	if p.t1, err = indexpb.NewAccount1Table(db); err != nil {
		return nil, err
	}
	if p.t3, err = indexpb.NewAccount3Table(db); err != nil {
		return nil, err
	}
	if p.q, err = query.Compile(db.Catalog(), ByEmailText); err != nil {
		return nil, err
	}
	p.email, p.ctry = p.t1.ByEmail(), p.t3.ByCountry()
	return p, nil
}

// Insert is AccountNTable.Put.
func (p *IdxProtoql) Insert(ctx context.Context, n int, a Acct) error { return p.put(ctx, n, a) }

// Update is AccountNTable.Put: a Put replaces the row.
func (p *IdxProtoql) Update(ctx context.Context, n int, a Acct) error { return p.put(ctx, n, a) }

func (p *IdxProtoql) put(ctx context.Context, n int, a Acct) error {
	switch n {
	case 0:
		return p.t0.Put(ctx, &indexpb.Account0{AccountId: a.ID, Email: a.Email, Name: a.Name, Country: a.Country, Score: a.Score})
	case 1:
		return p.t1.Put(ctx, &indexpb.Account1{AccountId: a.ID, Email: a.Email, Name: a.Name, Country: a.Country, Score: a.Score})
	case 3:
		return p.t3.Put(ctx, &indexpb.Account3{AccountId: a.ID, Email: a.Email, Name: a.Name, Country: a.Country, Score: a.Score})
	}
	return fmt.Errorf("bench: no table with %d indexes", n)
}

// ByEmail is Account1Table.ByEmail().Get, or the query ByEmailText.
func (p *IdxProtoql) ByEmail(ctx context.Context, email string) (Acct, error) {
	if !p.byQ {
		m, err := p.email.Get(ctx, email)
		if errors.Is(err, runtime.ErrNotFound) {
			return Acct{}, ErrNotFound
		}
		if err != nil {
			return Acct{}, err
		}
		return Acct{m.AccountId, m.Email, m.Name, m.Country, m.Score}, nil
	}
	p.vars["email"] = email
	var out []Acct
	for res, err := range p.db.Query(ctx, p.q, p.vars) {
		if err != nil {
			return Acct{}, err
		}
		m, ok := res.Msg.(*indexpb.Account1)
		if !ok {
			return Acct{}, fmt.Errorf("bench: query returned a %T", res.Msg)
		}
		out = append(out, Acct{m.AccountId, m.Email, m.Name, m.Country, m.Score})
	}
	switch len(out) {
	case 0:
		return Acct{}, ErrNotFound
	case 1:
		return out[0], nil
	}
	return Acct{}, fmt.Errorf("bench: %s returned %d rows", ByEmailText, len(out))
}

// ByCountry is Account3Table.ByCountry().Find.
func (p *IdxProtoql) ByCountry(ctx context.Context, c string, fn func(Acct)) error {
	for m, err := range p.ctry.Find(ctx, c, runtime.ScanOptions{}) {
		if err != nil {
			return err
		}
		fn(Acct{m.AccountId, m.Email, m.Name, m.Country, m.Score})
	}
	return nil
}

// protoql's layout of the index tables, written out by hand (see
// docs/key-layout.md, Secondary indexes).
const (
	fAcctID      = 1
	fAcctEmail   = 2
	fAcctName    = 3
	fAcctCountry = 4
)

func idxTableID(n int) uint32 { return uint32(10 + n) }

// IdxRaw is hand-written code on Pebble doing what protoql does.
type IdxRaw struct {
	db  *pebble.DB
	wo  *pebble.WriteOptions
	buf []byte
}

func idxRowKey(n int, id string) []byte {
	return tuple.AppendString(tuple.AppendUnit(nil, idxTableID(n)), fAcctID, tuple.Asc, id)
}

func idxPrefix(n int, index uint32) []byte {
	return tuple.AppendUnit(tuple.AppendUnit([]byte{0x01}, idxTableID(n)), index)
}

// idxRowValue appends the row's value: a without its key.
func idxRowValue(dst []byte, a Acct) ([]byte, error) {
	shell := indexpb.Account0{Email: a.Email, Name: a.Name, Country: a.Country, Score: a.Score}
	return proto.MarshalOptions{Deterministic: true}.MarshalAppend(dst, &shell)
}

// idxEntry is one index pair.
type idxEntry struct{ k, v []byte }

// idxEntries returns the index pairs of a in the table with n indexes: the
// unique email index maps the email to the key; the others end their keys
// with the row's key and have empty values.
func idxEntries(n int, a Acct) []idxEntry {
	if n == 0 {
		return nil
	}
	pk := tuple.AppendString(nil, fAcctID, tuple.Asc, a.ID)
	out := []idxEntry{{tuple.AppendString(idxPrefix(n, 1), fAcctEmail, tuple.Asc, a.Email), pk}}
	if n == 3 {
		out = append(out,
			idxEntry{append(tuple.AppendString(idxPrefix(n, 2), fAcctName, tuple.Asc, a.Name), pk...), nil},
			idxEntry{append(tuple.AppendString(idxPrefix(n, 3), fAcctCountry, tuple.Asc, a.Country), pk...), nil})
	}
	return out
}

// ErrRawUnique is the raw column's unique violation.
var ErrRawUnique = errors.New("bench: unique index violated")

// Insert is put.
func (x *IdxRaw) Insert(_ context.Context, n int, a Acct) error { return x.put(n, a) }

// Update is put.
func (x *IdxRaw) Update(_ context.Context, n int, a Acct) error { return x.put(n, a) }

// put writes the row, and with indexes reads the old row, checks the
// unique index, deletes the entries that change and sets the new ones, all
// in one batch, as protoql's Put does.
func (x *IdxRaw) put(n int, a Acct) error {
	row := idxRowKey(n, a.ID)
	var err error
	if x.buf, err = idxRowValue(x.buf[:0], a); err != nil {
		return err
	}
	b := x.db.NewBatch()
	defer b.Close()
	if err := b.Set(row, x.buf, nil); err != nil {
		return err
	}
	if n > 0 {
		var old []idxEntry
		v, closer, err := x.db.Get(row)
		switch {
		case err == nil:
			var m indexpb.Account0
			err = proto.Unmarshal(v, &m)
			_ = closer.Close()
			if err != nil {
				return err
			}
			old = idxEntries(n, Acct{a.ID, m.Email, m.Name, m.Country, m.Score})
		case !errors.Is(err, pebble.ErrNotFound):
			return err
		}
		nw := idxEntries(n, a)
		// The unique entry is first: a new email must be free.
		if len(old) == 0 || !bytes.Equal(old[0].k, nw[0].k) {
			held, closer, err := x.db.Get(nw[0].k)
			switch {
			case err == nil:
				same := bytes.Equal(held, nw[0].v)
				_ = closer.Close()
				if !same {
					return fmt.Errorf("%w: email %q", ErrRawUnique, a.Email)
				}
			case !errors.Is(err, pebble.ErrNotFound):
				return err
			}
		}
		for k, e := range old {
			if !bytes.Equal(e.k, nw[k].k) {
				if err := b.Delete(e.k, nil); err != nil {
					return err
				}
			}
		}
		for k, e := range nw {
			if len(old) == 0 || !bytes.Equal(e.k, old[k].k) || !bytes.Equal(e.v, old[k].v) {
				if err := b.Set(e.k, e.v, nil); err != nil {
					return err
				}
			}
		}
	}
	return b.Commit(x.wo)
}

// ByEmail reads the unique index entry, then the row's key range.
func (x *IdxRaw) ByEmail(_ context.Context, email string) (Acct, error) {
	pk, closer, err := x.db.Get(tuple.AppendString(idxPrefix(1, 1), fAcctEmail, tuple.Asc, email))
	if errors.Is(err, pebble.ErrNotFound) {
		return Acct{}, ErrNotFound
	}
	if err != nil {
		return Acct{}, err
	}
	row := append(tuple.AppendUnit(nil, idxTableID(1)), pk...)
	_ = closer.Close()
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: row, UpperBound: tuple.PrefixEnd(row)})
	if err != nil {
		return Acct{}, err
	}
	defer it.Close()
	if !it.First() {
		if err := it.Error(); err != nil {
			return Acct{}, err
		}
		return Acct{}, fmt.Errorf("bench: no row for the index entry of %q", email)
	}
	return decodeAcct(row, it.Value())
}

func decodeAcct(row, v []byte) (Acct, error) {
	var m indexpb.Account0
	if err := proto.Unmarshal(v, &m); err != nil {
		return Acct{}, err
	}
	id, _, err := tuple.DecodeElement(row[len(tuple.AppendUnit(nil, idxTableID(0))):])
	if err != nil {
		return Acct{}, err
	}
	return Acct{string(id.Bytes), m.Email, m.Name, m.Country, m.Score}, nil
}

// ByCountry iterates the index prefix and seeks each row on a second
// iterator (rawFindByAuthor's two steps).
func (x *IdxRaw) ByCountry(_ context.Context, c string, fn func(Acct)) error {
	prefix := tuple.AppendString(idxPrefix(3, 3), fAcctCountry, tuple.Asc, c)
	idx, err := x.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: tuple.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer idx.Close()
	rowsLo := tuple.AppendUnit(nil, idxTableID(3))
	rows, err := x.db.NewIter(&pebble.IterOptions{LowerBound: rowsLo, UpperBound: tuple.PrefixEnd(rowsLo)})
	if err != nil {
		return err
	}
	defer rows.Close()
	var row []byte
	for ok := idx.First(); ok; ok = idx.Next() {
		row = append(append(row[:0], rowsLo...), idx.Key()[len(prefix):]...)
		if !rows.SeekGE(row) || !bytes.Equal(rows.Key(), row) {
			return fmt.Errorf("bench: no row for index entry %x", idx.Key())
		}
		a, err := decodeAcct(row, rows.Value())
		if err != nil {
			return err
		}
		fn(a)
	}
	if err := idx.Error(); err != nil {
		return err
	}
	return rows.Error()
}

// IdxSQLite is the index tables in SQLite.
type IdxSQLite struct {
	db                 *sql.DB
	insert, update     map[int]*sql.Stmt
	byEmail, byCountry *sql.Stmt
}

func openIdxSQLite(path string, sync bool, cacheBytes int64) (*IdxSQLite, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path, sync, cacheBytes))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s := &IdxSQLite{db: db, insert: map[int]*sql.Stmt{}, update: map[int]*sql.Stmt{}}
	const cols = `(account_id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, country TEXT NOT NULL, score INTEGER NOT NULL) WITHOUT ROWID`
	schema := `CREATE TABLE account0 ` + cols + `;
		CREATE TABLE account1 ` + cols + `;
		CREATE UNIQUE INDEX account1_by_email ON account1(email);
		CREATE TABLE account3 ` + cols + `;
		CREATE UNIQUE INDEX account3_by_email ON account3(email);
		CREATE INDEX account3_by_name ON account3(name);
		CREATE INDEX account3_by_country ON account3(country);`
	if _, err := db.Exec(schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bench: sqlite schema: %w", err)
	}
	prep := func(text string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.Prepare(text)
		return st
	}
	for _, n := range IndexCounts {
		s.insert[n] = prep(fmt.Sprintf(`INSERT INTO account%d VALUES (?, ?, ?, ?, ?)`, n))
		s.update[n] = prep(fmt.Sprintf(`UPDATE account%d SET email = ?, name = ?, country = ?, score = ? WHERE account_id = ?`, n))
	}
	s.byEmail = prep(`SELECT account_id, email, name, country, score FROM account1 WHERE email = ?`)
	s.byCountry = prep(`SELECT account_id, email, name, country, score FROM account3 WHERE country = ? ORDER BY account_id`)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bench: sqlite prepare: %w", err)
	}
	return s, nil
}

// Insert is INSERT.
func (s *IdxSQLite) Insert(ctx context.Context, n int, a Acct) error {
	st, ok := s.insert[n]
	if !ok {
		return fmt.Errorf("bench: no table with %d indexes", n)
	}
	_, err := st.ExecContext(ctx, a.ID, a.Email, a.Name, a.Country, a.Score)
	return err
}

// Update is UPDATE of every non-key column.
func (s *IdxSQLite) Update(ctx context.Context, n int, a Acct) error {
	st, ok := s.update[n]
	if !ok {
		return fmt.Errorf("bench: no table with %d indexes", n)
	}
	res, err := st.ExecContext(ctx, a.Email, a.Name, a.Country, a.Score, a.ID)
	if err != nil {
		return err
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return fmt.Errorf("bench: update of %q changed %d rows (%v)", a.ID, k, err)
	}
	return nil
}

// ByEmail is SELECT … WHERE email = ? (the UNIQUE index).
func (s *IdxSQLite) ByEmail(ctx context.Context, email string) (Acct, error) {
	var a Acct
	err := s.byEmail.QueryRowContext(ctx, email).Scan(&a.ID, &a.Email, &a.Name, &a.Country, &a.Score)
	if errors.Is(err, sql.ErrNoRows) {
		return Acct{}, ErrNotFound
	}
	return a, err
}

// ByCountry is SELECT … WHERE country = ? ORDER BY account_id (the index
// on country, whose entries end with the primary key, gives that order).
func (s *IdxSQLite) ByCountry(ctx context.Context, c string, fn func(Acct)) error {
	rows, err := s.byCountry.QueryContext(ctx, c)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a Acct
		if err := rows.Scan(&a.ID, &a.Email, &a.Name, &a.Country, &a.Score); err != nil {
			return err
		}
		fn(a)
	}
	return rows.Err()
}
