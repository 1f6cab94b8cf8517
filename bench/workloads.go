package bench

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/protoql/protoql/examples/social/socialpb"
)

// Column is one measured variant of a workload: an implementation, or (with
// a Variant) another protoql API for the same operation.
type Column struct {
	Name string
	Impl Impl
	// Variant names the other protoql API: "alt" in the workloads (the
	// typed API where the workload is a query, a query where it is a typed
	// call), "put" and "breakout" in the growth curve.
	Variant string
	// Apart is the column's implementation on the apart layout (apart.go),
	// nil when it has none.
	Apart Scanner
}

// Columns returns the columns in report order.
func (e *Env) Columns() []Column {
	return []Column{
		{Name: "protoql", Impl: e.Protoql, Apart: e.ProtoqlApart},
		{Name: "protoql-alt", Impl: e.Protoql, Variant: "alt", Apart: e.ProtoqlApart},
		{Name: "raw", Impl: e.Raw, Apart: e.RawApart},
		{Name: "blob", Impl: e.Blob},
		{Name: "sqlite", Impl: e.SQLite, Apart: e.SQLite},
	}
}

// Workload is one measured operation, run on every column that has it.
type Workload struct {
	// Key is the short name used by Benchmark functions and the report.
	Key string
	// Title describes the operation.
	Title string
	// Scan marks a workload whose one operation reads the whole table.
	Scan bool
	// Op returns the operation for c on a data set of users users, or nil
	// when c does not run this workload.
	Op func(c Column, users int) Op
}

// Workloads are the workloads of DESIGN.md §8, in the order they run: the
// reads on the loaded data set first, then the writes, the inserts last (so
// that a scan reads exactly the data set). Operations pick users (and
// sessions) by mix(i); benchreport gives each column its own range of i,
// so that no column reads keys another column has just brought into the
// shared block cache.
var Workloads = []Workload{
	{Key: "get", Title: "get a User whole (alt: the query " + GetText + ")", Op: getOp},
	{Key: "query", Title: QuerySessionsText + " (alt: typed Sessions(id).Scan, first 10)", Op: queryOp},
	{Key: "scan", Title: "scan all users, projecting display_name (alt: with ScanOptions.Reuse)", Scan: true, Op: scanOp},
	{Key: "scan-apart", Title: "the scan with sessions stored apart (SQLite: the same tables; alt: with ScanOptions.Reuse)", Scan: true, Op: scanApartOp},
	{Key: "set-expiry", Title: "update one session's expires_us", Op: plain(func(c Column, users int) Op {
		return func(ctx context.Context, i int) error {
			x := mix(i)
			return c.Impl.SetSessionExpiry(ctx, UserID(int(x%uint64(users))), SessionID(int(x/uint64(users)%SessionsPerUser)), expiryMicros+int64(i))
		}
	})},
	{Key: "set-breakout", Title: "update last_seen_us (breakout)", Op: plain(func(c Column, users int) Op {
		return func(ctx context.Context, i int) error {
			return c.Impl.SetLastSeen(ctx, UserID(int(mix(i)%uint64(users))), baseMicros+int64(i))
		}
	})},
	{Key: "insert", Title: "insert a User with 10 sessions", Op: insertOp},
}

// plain adapts an Op constructor for a workload without an alternative.
func plain(f func(c Column, users int) Op) func(c Column, users int) Op {
	return func(c Column, users int) Op {
		if c.Variant != "" {
			return nil
		}
		return f(c, users)
	}
}

// insertOp inserts new users (ids after the data set's, distinct per
// operation) built from a small pool of prepared messages, so that
// building the message is not measured.
//
// The ids ascend across the columns, in the order the inserts run (one
// sequence for every column: insertID), so that every insert of every
// column adds a row past the end of every file and of the memtable, as
// appending ids do, and all ids have one length. With an id per column
// ("zz-<column>-" and the operation number), the column whose prefix
// sorted first (protoql) inserted every row inside the key range of the
// files holding the later prefix's rows (raw's): the iterator that reads
// the new row's range (a Put replaces the row) then looked into those
// files, 2 block-cache lookups per insert that raw never made; swapping
// the prefixes moved the lookups to raw (bench/README.md, "Findings").
func insertOp(c Column, _ int) Op {
	if c.Variant != "" {
		return nil
	}
	pool := make([]*socialpb.User, 16)
	for k := range pool {
		pool[k] = NewUser("", 1_000_000_000+k, SessionsPerUser)
	}
	return func(ctx context.Context, i int) error {
		u := pool[i%len(pool)]
		u.UserId = insertID()
		return c.Impl.Insert(ctx, u)
	}
}

// insertSeq numbers the inserts of the process, every column's.
var insertSeq atomic.Int64

// insertID returns the id of the next insert: "zz-" and the next number of
// insertSeq, 12 digits, which sorts after every id it returned before.
func insertID() string { return padID("zz-", int(insertSeq.Add(1)), 12) }

func getOp(c Column, users int) Op {
	run := c.Impl.Get
	if c.Variant != "" {
		run = c.Impl.(*Protoql).GetByQuery
	}
	return func(ctx context.Context, i int) error {
		u, err := run(ctx, UserID(int(mix(i)%uint64(users))))
		if err == nil && len(u.Sessions) != SessionsPerUser {
			err = fmt.Errorf("bench: %s get: %d sessions", c.Name, len(u.Sessions))
		}
		return err
	}
}

func queryOp(c Column, users int) Op {
	run := c.Impl.QuerySessions
	if c.Variant != "" {
		run = c.Impl.(*Protoql).QuerySessionsTyped
	}
	return func(ctx context.Context, i int) error {
		u, err := run(ctx, UserID(int(mix(i)%uint64(users))))
		if err == nil && (u == nil || len(u.Sessions) != SessionsPerUser) {
			err = fmt.Errorf("bench: %s query: got %v", c.Name, u)
		}
		return err
	}
}

func scanOp(c Column, users int) Op {
	run := c.Impl.ScanNames
	if c.Variant != "" {
		p, ok := c.Impl.(*Protoql)
		if !ok {
			return nil
		}
		run = p.ScanNamesReuse
	}
	return func(ctx context.Context, _ int) error {
		n := 0
		err := run(ctx, func(id, name string) {
			if name != "" {
				n++
			}
		})
		if err == nil && n < users {
			err = fmt.Errorf("bench: %s scan: %d named users, want at least %d", c.Name, n, users)
		}
		return err
	}
}
