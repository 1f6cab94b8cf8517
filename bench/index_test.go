package bench

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/tuple"
	"google.golang.org/protobuf/proto"
)

// Reading through a secondary index: the social example's Thread.by_author
// (threads by author_id, not unique), 10 threads per author. Each
// implementation finds the threads of one author and decodes them:
//
//   - protoql: threads.ByAuthor().Find (index scan, then each row);
//   - raw: the same two steps on Pebble by hand: an iterator over the
//     index prefix 0x01 ⟨2⟩ ⟨1⟩ ⟨author_id⟩, and for each entry a seek on a
//     second iterator to the row key it ends with, the row's value
//     unmarshalled;
//   - sqlite: SELECT … WHERE author_id = ? with an index on author_id.
//
// go test -bench Index -run '^$' ./bench/ (figures from the shared,
// noisy machine; compare ratios, not absolute times).

const (
	idxAuthors = 1000
	idxPer     = 10
	threadTbl  = 2
	fAuthorID  = 3
)

func threadID(i int) string { return padID("t", i, 8) }
func authorID(i int) string { return padID("a", i, 5) }

type indexEnv struct {
	kv      *pebblekv.Store
	threads socialpb.ThreadTable
	sqlite  *sql.DB
	stmt    *sql.Stmt
}

var sharedIndexEnv *indexEnv

func openIndexEnv(b *testing.B) *indexEnv {
	if sharedIndexEnv != nil {
		return sharedIndexEnv
	}
	ctx := context.Background()
	dir := b.TempDir()
	kvs, err := pebblekv.Open(filepath.Join(dir, "protoql"), pebblekv.WithCacheSize(pebbleCacheSize(64<<20)))
	check(b, err)
	db, err := runtime.Open(ctx, kvs, runtime.WithSchema(socialpb.File_protoql_examples_social_v1_social_proto))
	check(b, err)
	threads, err := socialpb.NewThreadTable(db)
	check(b, err)
	sq, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "idx.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	check(b, err)
	sq.SetMaxOpenConns(1)
	_, err = sq.Exec(`CREATE TABLE threads (thread_id TEXT PRIMARY KEY, title TEXT, author_id TEXT) WITHOUT ROWID;
		CREATE INDEX threads_by_author ON threads(author_id);`)
	check(b, err)
	tx, err := sq.Begin()
	check(b, err)
	for i := range idxAuthors * idxPer {
		th := &socialpb.Thread{ThreadId: threadID(i), Title: fmt.Sprintf("title %d", i), AuthorId: authorID(i % idxAuthors)}
		check(b, threads.Put(ctx, th))
		_, err := tx.Exec(`INSERT INTO threads VALUES (?, ?, ?)`, th.ThreadId, th.Title, th.AuthorId)
		check(b, err)
	}
	check(b, tx.Commit())
	stmt, err := sq.Prepare(`SELECT thread_id, title, author_id FROM threads WHERE author_id = ?`)
	check(b, err)
	sharedIndexEnv = &indexEnv{kv: kvs, threads: threads, sqlite: sq, stmt: stmt}
	return sharedIndexEnv
}

func check(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// rawFindByAuthor is the two-step read by hand on Pebble.
func rawFindByAuthor(db *pebble.DB, author string, emit func(*socialpb.Thread)) error {
	prefix := append([]byte{0x01}, tuple.AppendUnit(nil, threadTbl)...)
	prefix = tuple.AppendUnit(prefix, 1)
	prefix = tuple.AppendString(prefix, fAuthorID, tuple.Asc, author)
	idx, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: tuple.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer idx.Close()
	rowsLo := tuple.AppendUnit(nil, threadTbl)
	rows, err := db.NewIter(&pebble.IterOptions{LowerBound: rowsLo, UpperBound: tuple.PrefixEnd(rowsLo)})
	if err != nil {
		return err
	}
	defer rows.Close()
	var rowKey []byte
	for ok := idx.First(); ok; ok = idx.Next() {
		rowKey = append(append(rowKey[:0], rowsLo...), idx.Key()[len(prefix):]...)
		if !rows.SeekGE(rowKey) || !bytes.Equal(rows.Key(), rowKey) {
			return fmt.Errorf("no row for index entry %x", idx.Key())
		}
		th := &socialpb.Thread{}
		if err := proto.Unmarshal(rows.Value(), th); err != nil {
			return err
		}
		id, _, err := tuple.DecodeElement(rowKey[len(rowsLo):])
		if err != nil {
			return err
		}
		th.ThreadId = string(id.Bytes)
		emit(th)
	}
	return idx.Error()
}

func BenchmarkIndexFind(b *testing.B) {
	env := openIndexEnv(b)
	ctx := context.Background()
	want := idxPer
	count := func(b *testing.B, n int) {
		if n != want {
			b.Fatalf("found %d threads, want %d", n, want)
		}
	}
	b.Run("impl=protoql", func(b *testing.B) {
		i := 0
		for b.Loop() {
			n := 0
			for th, err := range env.threads.ByAuthor().Find(ctx, authorID(i%idxAuthors), runtime.ScanOptions{}) {
				check(b, err)
				_ = th
				n++
			}
			count(b, n)
			i++
		}
	})
	b.Run("impl=raw", func(b *testing.B) {
		i := 0
		for b.Loop() {
			n := 0
			check(b, rawFindByAuthor(env.kv.DB(), authorID(i%idxAuthors), func(*socialpb.Thread) { n++ }))
			count(b, n)
			i++
		}
	})
	b.Run("impl=sqlite", func(b *testing.B) {
		i := 0
		for b.Loop() {
			rows, err := env.stmt.Query(authorID(i % idxAuthors))
			check(b, err)
			n := 0
			for rows.Next() {
				th := &socialpb.Thread{}
				check(b, rows.Scan(&th.ThreadId, &th.Title, &th.AuthorId))
				n++
			}
			check(b, rows.Err())
			check(b, rows.Close())
			count(b, n)
			i++
		}
	})
}

var benchIndexRows = flag.Int("bench.index-rows", DefaultIndexRows, "rows of each table of BenchmarkIndexes")

// The environment of BenchmarkIndexes, and the next operation number: the
// inserts need new ids across -count runs.
var (
	benchIndexEnv *IndexEnv
	benchIndexOp  = 0
)

// BenchmarkIndexes runs IndexWorkloads (the report's Indexes section):
// BenchmarkIndexes/<workload>/<column>.
func BenchmarkIndexes(b *testing.B) {
	ctx := context.Background()
	if benchIndexEnv == nil {
		if benchDir == "" {
			dir, err := os.MkdirTemp("", "protoql-bench-test-")
			check(b, err)
			benchDir = dir
		}
		env, err := OpenIndexEnv(ctx, filepath.Join(benchDir, "index"), *benchIndexRows, EnvOptions{Sync: *benchSync})
		check(b, err)
		benchIndexEnv = env
	}
	env := benchIndexEnv
	for _, w := range IndexWorkloads {
		b.Run(w.Key, func(b *testing.B) {
			for _, c := range env.Columns() {
				op := w.Op(c, env.Rows)
				if op == nil {
					continue
				}
				b.Run(c.Name, func(b *testing.B) {
					b.ReportAllocs()
					w0 := c.Written()
					cpu0 := cpuTime()
					n := 0
					for b.Loop() {
						check(b, op(ctx, benchIndexOp))
						benchIndexOp++
						n++
					}
					// The process's CPU time per operation, as runOp's.
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(max(n, 1)), "cpu-ns/op")
					b.ReportMetric(float64(c.Written()-w0)/float64(max(n, 1)), "written-B/op")
				})
			}
		})
	}
}
