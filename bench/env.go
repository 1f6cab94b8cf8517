package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/protoql/protoql/examples/social/socialpb"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
)

// Env is the four implementations on their stores in one directory.
type Env struct {
	dir      string
	opts     EnvOptions
	concPool *SQLitePool  // after LoadConc
	conc     []ConcColumn // after LoadConc

	kv     *pebblekv.Store // protoql's store, shared with the raw implementation
	blobKV *pebblekv.Store
	db     *runtime.DB
	// apartKV holds the same users in the apart layout (apart.go).
	apartKV *pebblekv.Store

	Protoql *Protoql
	Raw     *Raw
	Blob    *Blob
	SQLite  *SQLite
	// ProtoqlApart and RawApart scan the apart layout (apart.go).
	ProtoqlApart *ProtoqlApart
	RawApart     *Raw

	// bg is each Pebble store's flush and compaction counts at the last
	// quiesce or Settle (kv, blobKV, apartKV), and waits the number of
	// stores quiesce has waited for.
	bg    [3]int64
	waits int
}

// EnvOptions configures OpenEnv.
type EnvOptions struct {
	// Sync makes every commit of every engine durable (see the package doc).
	Sync bool
	// CacheBytes is the read cache of every store: SQLite's page cache, and
	// the room for blocks in Pebble's block cache. Default 64 MiB.
	CacheBytes int64
}

// memTableSize is pebblekv's default memtable size, set explicitly because
// the block cache is sized from it.
const memTableSize = 32 << 20

// pebbleCacheSize returns the block cache size that leaves blocks bytes for
// blocks. Pebble reserves its memtables in the block cache: the active one
// and the last flushed one, kept for reuse, each up to memTableSize. So
// pebblekv's default 64 MiB cache with its default 32 MiB memtables holds no
// block at all once the memtable has grown to full size (Metrics reports a
// block cache of size 0), and every read decompresses its blocks again.
func pebbleCacheSize(blocks int64) int64 { return blocks + 2*memTableSize }

// withDefaults returns o with its zero fields set to their defaults.
func (o EnvOptions) withDefaults() EnvOptions {
	if o.CacheBytes == 0 {
		o.CacheBytes = 64 << 20
	}
	return o
}

// pebbleOptions returns the options of every Pebble store of a benchmark
// environment (o with its defaults).
func (o EnvOptions) pebbleOptions() []pebblekv.Option {
	return []pebblekv.Option{
		pebblekv.WithSync(o.Sync),
		pebblekv.WithMemTableSize(memTableSize),
		pebblekv.WithCacheSize(pebbleCacheSize(o.CacheBytes)),
	}
}

// OpenEnv opens (creating) the stores under dir.
func OpenEnv(ctx context.Context, dir string, o EnvOptions) (env *Env, err error) {
	o = o.withDefaults()
	env = &Env{dir: dir, opts: o}
	defer func() {
		if err != nil {
			_ = env.Close()
		}
	}()
	opts := o.pebbleOptions()
	if env.kv, err = pebblekv.Open(filepath.Join(dir, "protoql"), opts...); err != nil {
		return nil, err
	}
	if env.blobKV, err = pebblekv.Open(filepath.Join(dir, "blob"), opts...); err != nil {
		return nil, err
	}
	if env.db, err = runtime.Open(ctx, env.kv, runtime.WithSchema(socialpb.File_protoql_examples_social_v1_social_proto)); err != nil {
		return nil, err
	}
	if env.Protoql, err = NewProtoql(env.db); err != nil {
		return nil, err
	}
	wo := pebble.NoSync
	if o.Sync {
		wo = pebble.Sync
	}
	env.Raw = NewRaw(env.kv.DB(), wo)
	env.Blob = NewBlob(env.blobKV.DB(), wo)
	if err = env.openApart(ctx, dir, opts, wo); err != nil {
		return nil, err
	}
	if env.SQLite, err = OpenSQLite(filepath.Join(dir, "sqlite.db"), o.Sync, o.CacheBytes); err != nil {
		return nil, err
	}
	return env, nil
}

// Impls returns the implementations in column order.
func (e *Env) Impls() []Impl { return []Impl{e.Protoql, e.Raw, e.Blob, e.SQLite} }

// Close closes everything; the directory stays.
func (e *Env) Close() error {
	var errs []error
	if e.concPool != nil {
		errs = append(errs, e.concPool.Close())
	}
	if e.SQLite != nil {
		errs = append(errs, e.SQLite.Close())
	}
	for _, s := range []*pebblekv.Store{e.kv, e.blobKV, e.apartKV} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// written returns the bytes each implementation's engine has written so far:
// Pebble's WAL bytes for the Pebble ones, the process's write(2) bytes for
// SQLite (its WAL frames and checkpoints).
func (e *Env) written(impl Impl) uint64 {
	switch impl.(type) {
	case *Blob:
		return e.blobKV.Metrics().WAL.BytesWritten
	case *SQLite:
		return procWriteBytes()
	default:
		return e.kv.Metrics().WAL.BytesWritten
	}
}

// blockMisses returns the block cache misses of the Pebble stores so far
// (one workload reads one store at a time).
func (e *Env) blockMisses() int64 {
	var n int64
	for _, s := range e.pebbleStores() {
		n += s.Metrics().BlockCache.Misses
	}
	return n
}

// Load bulk-loads users [0, n) of gen into every store (not through the
// measured APIs) and settles them; see LoadPebble.
func (e *Env) Load(ctx context.Context, n int, gen func(i int) *socialpb.User) error {
	if err := e.LoadPebble(n, gen); err != nil {
		return err
	}
	if err := e.SQLite.Load(ctx, n, 2000, gen); err != nil {
		return err
	}
	return e.Settle()
}

// LoadPebble bulk-loads users [0, n) of gen into the Pebble stores: the
// protoql store is written by the raw encoder, which writes exactly
// protoql's pairs (TestRawLayout), in large unsynced batches.
func (e *Env) LoadPebble(n int, gen func(i int) *socialpb.User) error {
	pl := newPebbleLoader(e.kv.DB())
	bl := newPebbleLoader(e.blobKV.DB())
	for i := range n {
		u := gen(i)
		if err := encodeUser(u, pl.set); err != nil {
			return err
		}
		v, err := proto.Marshal(u)
		if err != nil {
			return err
		}
		if err := bl.set(rowKey(nil, u.UserId), v); err != nil {
			return err
		}
	}
	if err := pl.close(); err != nil {
		return err
	}
	if err := bl.close(); err != nil {
		return err
	}
	return e.loadApart(n, gen)
}

// Settle flushes the Pebble memtables and waits for the compactions they
// cause, and checkpoints SQLite's WAL, so that a measurement neither starts
// with a memtable full of another workload's writes nor competes with
// their compactions for the CPU.
func (e *Env) Settle() error {
	for i, s := range e.pebbleStores() {
		if err := s.DB().Flush(); err != nil {
			return err
		}
		waitCompactions(s)
		e.bg[i] = bgCount(s.Metrics())
	}
	_, err := e.SQLite.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// quiesce waits for the flushes and compactions that the operations since
// the last call started, in every Pebble store, to end (waitCompactions),
// so that the next column measured does not run beside the background work
// of another's writes: at 10⁶ entries the growth curve's blob column
// rewrites 28 MiB an update, a memtable flush or more per operation, whose
// compactions would otherwise run through the stretch of the column after
// it. A store whose counts did not move and that has nothing in progress
// is not waited for, so that reads and small writes pay nothing.
func (e *Env) quiesce() {
	for i, s := range e.pebbleStores() {
		m := s.Metrics()
		if bgCount(m) != e.bg[i] || m.Flush.NumInProgress > 0 || m.Compact.NumInProgress > 0 {
			waitCompactions(s)
			e.waits++
			m = s.Metrics()
		}
		e.bg[i] = bgCount(m)
	}
}

// bgCount is a store's flushes and compactions so far.
func bgCount(m *pebble.Metrics) int64 { return m.Flush.Count + m.Compact.Count }

// pebbleStores returns the Pebble stores in e.bg's order.
func (e *Env) pebbleStores() [3]*pebblekv.Store {
	return [3]*pebblekv.Store{e.kv, e.blobKV, e.apartKV}
}

// waitCompactions waits (at most two minutes) until Pebble has run no
// flush or compaction for five polls in a row: a flush schedules its compactions
// shortly after it returns. (Pebble's estimated compaction debt is no
// signal: it stays above zero on an idle store whose L0 is below its
// compaction threshold.)
func waitCompactions(s *pebblekv.Store) {
	deadline := time.Now().Add(2 * time.Minute)
	for quiet := 0; quiet < 5 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if m := s.Metrics(); m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// pebbleLoader writes pairs in large unsynced batches.
type pebbleLoader struct {
	db *pebble.DB
	b  *pebble.Batch
}

func newPebbleLoader(db *pebble.DB) *pebbleLoader { return &pebbleLoader{db: db, b: db.NewBatch()} }

func (l *pebbleLoader) set(k, v []byte) error {
	if err := l.b.Set(k, v, nil); err != nil {
		return err
	}
	if l.b.Len() >= 4<<20 {
		return l.flush()
	}
	return nil
}

func (l *pebbleLoader) flush() error {
	if err := l.b.Commit(pebble.NoSync); err != nil {
		return err
	}
	_ = l.b.Close()
	l.b = l.db.NewBatch()
	return nil
}

func (l *pebbleLoader) close() error {
	err := l.b.Commit(pebble.NoSync)
	_ = l.b.Close()
	return err
}

// procWriteBytes returns the bytes this process has passed to write(2)
// (wchar of /proc/self/io), or 0 where it is not available.
func procWriteBytes() uint64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}
