package pebblekv

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// RegisterMetrics exposes Pebble's metrics ([Store.Metrics]) as
// OpenTelemetry observable instruments of the meter provider mp, read once
// per collection: gauges for the current state (disk usage, read
// amplification, compaction debt, memtables, tables and bytes per level,
// block cache size, open snapshots and iterators, WAL size) and cumulative
// counters for what happened since Open (block cache hits and misses,
// bloom filter hits and misses, compactions, flushes, WAL bytes in and
// written). Names start with
// "pebble."; per-level instruments carry the attribute pebble.level.
//
// After Close the callback observes nothing. Unregister the returned
// registration to stop reporting (a program that closes and reopens stores
// should).
func (s *Store) RegisterMetrics(mp metric.MeterProvider) (metric.Registration, error) {
	m := mp.Meter("github.com/protoql/protoql/kv/pebblekv")
	var errs []error
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	var (
		disk       = gauge("pebble.disk.usage", "By", "Bytes on disk: tables, WAL, manifests, obsolete files not yet deleted.")
		readAmp    = gauge("pebble.read_amp", "{sublevel}", "Read amplification: L0 sublevels plus non-empty levels.")
		debt       = gauge("pebble.compaction.debt", "By", "Estimated bytes to compact to reach a stable LSM shape.")
		compacting = gauge("pebble.compaction.in_progress", "{compaction}", "Compactions running.")
		memSize    = gauge("pebble.memtable.size", "By", "Bytes allocated by memtables and large batches.")
		memCount   = gauge("pebble.memtable.count", "{memtable}", "Memtables.")
		tables     = gauge("pebble.level.tables", "{table}", "Sstables per level.")
		levelSize  = gauge("pebble.level.size", "By", "Bytes of the sstables per level.")
		sublevels  = gauge("pebble.l0.sublevels", "{sublevel}", "Sublevels of L0.")
		cacheSize  = gauge("pebble.block_cache.size", "By", "Bytes in the block cache.")
		snapshots  = gauge("pebble.snapshots", "{snapshot}", "Open snapshots.")
		iters      = gauge("pebble.table_iters", "{iterator}", "Open sstable iterators.")
		walSize    = gauge("pebble.wal.size", "By", "Live WAL bytes.")
		hits       = counter("pebble.block_cache.hits", "{hit}", "Block cache hits.")
		misses     = counter("pebble.block_cache.misses", "{miss}", "Block cache misses.")
		fHits      = counter("pebble.filter.hits", "{hit}", "Point reads of a table its bloom filter ruled out, sparing its index and data blocks.")
		fMisses    = counter("pebble.filter.misses", "{miss}", "Point reads of a table its bloom filter let through.")
		compacts   = counter("pebble.compaction.count", "{compaction}", "Compactions done.")
		flushes    = counter("pebble.flush.count", "{flush}", "Memtable flushes done.")
		walIn      = counter("pebble.wal.bytes_in", "By", "Logical bytes written to the WAL.")
		walOut     = counter("pebble.wal.bytes_written", "By", "Physical bytes written to the WAL.")
	)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pebblekv: creating metric instruments: %w", err)
	}
	levels := make([]metric.ObserveOption, 0, 7)
	for l := range 7 {
		levels = append(levels, metric.WithAttributes(attribute.String("pebble.level", strconv.Itoa(l))))
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		pm := s.Metrics()
		if pm == nil {
			return nil
		}
		o.ObserveInt64(disk, int64(pm.DiskSpaceUsage()))
		o.ObserveInt64(readAmp, int64(pm.ReadAmp()))
		o.ObserveInt64(debt, int64(pm.Compact.EstimatedDebt))
		o.ObserveInt64(compacting, pm.Compact.NumInProgress)
		o.ObserveInt64(memSize, int64(pm.MemTable.Size))
		o.ObserveInt64(memCount, pm.MemTable.Count)
		for l, lm := range pm.Levels {
			if l < len(levels) {
				o.ObserveInt64(tables, lm.TablesCount, levels[l])
				o.ObserveInt64(levelSize, lm.TablesSize, levels[l])
			}
		}
		o.ObserveInt64(sublevels, int64(pm.Levels[0].Sublevels))
		o.ObserveInt64(cacheSize, pm.BlockCache.Size)
		o.ObserveInt64(snapshots, int64(pm.Snapshots.Count))
		o.ObserveInt64(iters, pm.TableIters)
		o.ObserveInt64(walSize, int64(pm.WAL.Size))
		o.ObserveInt64(hits, pm.BlockCache.Hits)
		o.ObserveInt64(misses, pm.BlockCache.Misses)
		o.ObserveInt64(fHits, pm.Filter.Hits)
		o.ObserveInt64(fMisses, pm.Filter.Misses)
		o.ObserveInt64(compacts, pm.Compact.Count)
		o.ObserveInt64(flushes, pm.Flush.Count)
		o.ObserveInt64(walIn, int64(pm.WAL.BytesIn))
		o.ObserveInt64(walOut, int64(pm.WAL.BytesWritten))
		return nil
	}, disk, readAmp, debt, compacting, memSize, memCount, tables, levelSize, sublevels, cacheSize,
		snapshots, iters, walSize, hits, misses, fHits, fMisses, compacts, flushes, walIn, walOut)
}
