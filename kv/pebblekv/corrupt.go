package pebblekv

import (
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/protoql/protoql/kv"
)

// Detected corruption is an error, not an exit. Pebble reports a block whose
// checksum does not match to its EventListener.DataCorruption and returns
// the error to the read that found it; Pebble's default listener passes the
// event to Logger.Fatalf, which exits the process. pebblekv installs a
// listener that logs the event with Logger.Errorf instead, so the read fails
// with an error wrapping kv.ErrCorrupt and the store keeps serving
// everything else.
//
// Logger.Fatalf itself keeps exiting: Pebble calls it only where it cannot
// go on (a violated invariant of its own, a MANIFEST it failed to write),
// and its callers do not expect it to return.

// corruptionListener returns el (or an empty listener) with DataCorruption
// set to log through logger, unless the caller set one.
func corruptionListener(el *pebble.EventListener, logger pebble.Logger) *pebble.EventListener {
	var l pebble.EventListener
	if el != nil {
		l = *el
	}
	if l.DataCorruption == nil {
		l.DataCorruption = func(info pebble.DataCorruptionInfo) {
			logger.Errorf("pebblekv: on-disk corruption in %s holding keys %s: %v (reads of these keys fail with %q; the store stays open)",
				info.Path, keyBounds(&info), info.Details, kv.ErrCorrupt)
		}
	}
	return &l
}

// wrapCorrupt returns err marked with kv.ErrCorrupt when Pebble says it is
// a corruption, naming the damaged file and the keys it holds; other errors
// are returned unchanged.
func wrapCorrupt(err error) error {
	if err == nil || !pebble.IsCorruptionError(err) {
		return err
	}
	where := "a damaged file"
	if info := pebble.ExtractDataCorruptionInfo(err); info != nil {
		where = fmt.Sprintf("file %s holding keys %s", filepath.Base(info.Path), keyBounds(info))
	}
	return fmt.Errorf("%w in %s: %w", kv.ErrCorrupt, where, err)
}

// keyBounds renders the key range of a damaged file in hex.
func keyBounds(info *pebble.DataCorruptionInfo) string {
	b := info.Bounds
	if len(b.Start) == 0 && len(b.End.Key) == 0 {
		return "(unknown)"
	}
	end := ")"
	if b.End.Kind == 1 { // base.Inclusive
		end = "]"
	}
	return fmt.Sprintf("[%s, %s%s", kv.KeyText(b.Start), kv.KeyText(b.End.Key), end)
}
