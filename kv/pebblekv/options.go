package pebblekv

import (
	"maps"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Options configures a Store. Open starts from the defaults documented on
// each field and applies the Option functions in order.
type Options struct {
	// CacheSize is the size in bytes of Pebble's block cache, shared by every
	// reader of the store. Pebble reserves room for the active and the
	// recycled memtable inside it, so only CacheSize - 2*MemTableSize holds
	// blocks: keep it well above twice MemTableSize. Zero keeps the Pebble
	// options' own setting (Pebble's default is 8 MiB). Default 128 MiB.
	CacheSize int64

	// MemTableSize is the size in bytes of a memtable: how much is written
	// before Pebble flushes to a new sstable. Pebble starts with a smaller
	// memtable and grows to this size, so small stores stay small. Zero
	// keeps the Pebble options' own setting (Pebble's default is 4 MiB).
	// Default 16 MiB. A smaller memtable is flushed sooner, which also bounds
	// how many overwritten versions of a hot key a range read steps over.
	MemTableSize uint64

	// BloomBitsPerKey gives the sstables of levels L0 to L5 a bloom filter
	// of this many bits per key (pebble/bloom.FilterPolicy), which Pebble
	// writes with each table and checks on a point read (Get, and the point
	// reads of Update, UpdateLatest, UpdateKey and View) before it searches
	// the table's index and data blocks: a point read skips the tables of
	// those levels that do not hold its key (in a written-to store, mostly
	// L0's, which overlap each other and every level below). 10 bits per key
	// (the usual setting, CockroachDB's too) lets through about 1% of the
	// tables without the key and costs about 1.25 bytes per key of those
	// levels on disk and in the block cache. L6, the last level, gets no
	// filter: Pebble's point reads do not consult last-level filters (a key
	// looked up is most likely there; see pebble.IterOptions.UseL6Filters),
	// so one would be space for nothing, and L6 holds most of a settled
	// store. Range scans do not use filters. A table keeps what it was
	// written with until it is compacted again. Zero keeps the Pebble
	// options' own per-level filter policies (Pebble's default is none);
	// so do Pebble options that set the FilterPolicy of any level, which
	// then apply as Pebble defines them. Default 10.
	BloomBitsPerKey int

	// IndexBlockSize is the target size in bytes of an sstable's index
	// block, on every level. Pebble's default is the data block size
	// (4 KiB), so a table whose index outgrows 4 KiB (some 80 to 200 data
	// blocks, depending on key length) gets a two-level index, and a point
	// read of it looks up and searches three blocks (the top-level index,
	// an index partition, the data block) instead of two. 256 KiB
	// (CockroachDB's setting) keeps a single index level up to tables of
	// about 20 MiB with keys of 50 bytes; an index block is read whole, so
	// a larger one makes a cold table's first read longer. Zero keeps the
	// Pebble options' own setting; so do Pebble options that set the
	// IndexBlockSize of any level. Default 256 KiB.
	IndexBlockSize int

	// Sync makes every commit durable before it returns: Apply and a writing
	// Update return only once their WAL record is fsynced, so a machine crash
	// right after loses nothing acknowledged. Concurrent commits share
	// fsyncs (see the package doc). With Sync false, commits return once
	// they are in the memtable and queued for the WAL; a crash may lose the
	// latest commits, but recovery always restores a prefix of the commit
	// order. Sync requires the WAL. Default true.
	Sync bool

	// MaxTxnLifetime bounds how long an Update's attempt may run: after
	// it, the transaction's calls and its commit fail with kv.ErrExpired,
	// and the commit log stops keeping records for it. Default one minute.
	MaxTxnLifetime time.Duration

	// WALRecovery says what Open does when the newest write-ahead log does
	// not end cleanly (see WALRecovery). Default WALPointInTime: open up to
	// the damage and log what is dropped.
	WALRecovery WALRecovery

	// Pebble, when non-nil, is the base Pebble configuration: the escape
	// hatch for every knob this struct does not name (FS, Logger, Levels,
	// compaction settings, WAL failover...). Open copies it and does not
	// modify it. CacheSize and MemTableSize, when non-zero, override its
	// Cache/CacheSize and MemTableSize; BloomBitsPerKey and
	// IndexBlockSize, when non-zero, set its levels' FilterPolicy and
	// IndexBlockSize unless it sets any level's itself (options that went
	// through pebble.Options.EnsureDefaults set both on every level, to
	// no filter and 4 KiB, so they keep Pebble's defaults); an
	// unset FormatMajorVersion becomes pebble.FormatNewest, since protoql
	// has no older stores to stay readable by; an unset Logger becomes one
	// that logs only errors (Pebble's default also logs routine events,
	// such as WAL replay, on every Open); an unset EventListener.DataCorruption becomes one that
	// logs the corruption through the logger's Errorf (Pebble's default
	// calls Fatalf, which exits; see the package doc); an unset Merger
	// becomes MergerName's field-patch merger, or Pebble's default for a
	// store whose OPTIONS file names it (a store of protoql v0.1.0). A
	// Merger set here is used as it is, and the store merges
	// (kv.KeyMerger) only if it is named MergerName.
	Pebble *pebble.Options
}

// Option sets a field of Options.
type Option func(*Options)

// WithCacheSize sets Options.CacheSize.
func WithCacheSize(bytes int64) Option { return func(o *Options) { o.CacheSize = bytes } }

// WithMemTableSize sets Options.MemTableSize.
func WithMemTableSize(bytes uint64) Option { return func(o *Options) { o.MemTableSize = bytes } }

// WithBloomBitsPerKey sets Options.BloomBitsPerKey.
func WithBloomBitsPerKey(bits int) Option { return func(o *Options) { o.BloomBitsPerKey = bits } }

// WithIndexBlockSize sets Options.IndexBlockSize.
func WithIndexBlockSize(bytes int) Option { return func(o *Options) { o.IndexBlockSize = bytes } }

// WithSync sets Options.Sync.
func WithSync(sync bool) Option { return func(o *Options) { o.Sync = sync } }

// WithMaxTxnLifetime sets Options.MaxTxnLifetime.
func WithMaxTxnLifetime(d time.Duration) Option { return func(o *Options) { o.MaxTxnLifetime = d } }

// WithWALRecovery sets Options.WALRecovery.
func WithWALRecovery(mode WALRecovery) Option { return func(o *Options) { o.WALRecovery = mode } }

// WithPebbleOptions sets Options.Pebble.
func WithPebbleOptions(opts *pebble.Options) Option { return func(o *Options) { o.Pebble = opts } }

// DefaultOptions returns the options Open starts from.
func DefaultOptions() Options {
	return Options{
		CacheSize:       128 << 20,
		MemTableSize:    16 << 20,
		BloomBitsPerKey: 10,
		IndexBlockSize:  256 << 10,
		Sync:            true,
	}
}

// pebbleOptions builds the Pebble options for o. The caller must Unref the
// returned cache, if any, once Pebble holds its own reference.
func (o *Options) pebbleOptions() (*pebble.Options, *pebble.Cache) {
	po := o.Pebble.Clone() // a nil receiver gives an empty Options
	var cache *pebble.Cache
	if o.CacheSize > 0 {
		cache = pebble.NewCache(o.CacheSize)
		po.Cache, po.CacheSize = cache, o.CacheSize
	}
	if o.MemTableSize > 0 {
		po.MemTableSize = o.MemTableSize
	}
	if o.BloomBitsPerKey > 0 && !setsFilters(po) {
		policy := bloom.FilterPolicy(o.BloomBitsPerKey)
		last := len(po.Levels) - 1
		for i := range po.Levels[:last] {
			po.Levels[i].FilterPolicy = policy
			po.Levels[i].FilterType = pebble.TableFilter
		}
		po.Levels[last].FilterPolicy = pebble.NoFilterPolicy
	}
	if o.IndexBlockSize > 0 && !setsIndexBlockSize(po) {
		for i := range po.Levels {
			po.Levels[i].IndexBlockSize = o.IndexBlockSize
		}
	}
	// Pebble's Open adds every level's policy to Filters, the policies
	// readers know by name: give it a map of its own, not the caller's.
	po.Filters = maps.Clone(po.Filters)
	if po.FormatMajorVersion == pebble.FormatDefault {
		po.FormatMajorVersion = pebble.FormatNewest
	}
	if po.Logger == nil && po.LoggerAndTracer == nil {
		po.Logger = errorLogger{}
	}
	po.EventListener = corruptionListener(po.EventListener, o.logger(po))
	return po, cache
}

// setsFilters reports whether po chooses the filter policy of any level.
func setsFilters(po *pebble.Options) bool {
	for i := range po.Levels {
		if po.Levels[i].FilterPolicy != nil {
			return true
		}
	}
	return false
}

// setsIndexBlockSize reports whether po chooses the index block size of
// any level.
func setsIndexBlockSize(po *pebble.Options) bool {
	for i := range po.Levels {
		if po.Levels[i].IndexBlockSize != 0 {
			return true
		}
	}
	return false
}

// logger returns the logger Pebble uses with po.
func (o *Options) logger(po *pebble.Options) pebble.Logger {
	switch {
	case po.Logger != nil:
		return po.Logger
	case po.LoggerAndTracer != nil:
		return po.LoggerAndTracer
	}
	return pebble.DefaultLogger
}

// errorLogger is Pebble's default logger without its informational messages.
type errorLogger struct{}

func (errorLogger) Infof(string, ...any) {}

func (errorLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}

func (errorLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
