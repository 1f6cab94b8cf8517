package pebblekv

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/protoql/protoql/kv"
)

// WALRecovery says what Open does when the newest write-ahead log does not
// end cleanly.
//
// Pebble replays every WAL at Open. An older WAL must be intact, or Open
// fails. The newest may end in a damaged record for an innocent reason: the
// machine lost power while a write was in flight, and that write was never
// acknowledged. Pebble cannot always tell that from a damaged byte in the
// last 32 KiB block of the log: in both cases it stops replaying at the
// damaged record and opens without what follows, silently. pebblekv reads
// the newest WAL itself before Pebble does, so that such an end is never
// silent: it finds the offset where replay will stop and whether any
// non-zero bytes follow it (a log that merely stops, followed by nothing
// or by the zeros of preallocated space, is a clean end).
type WALRecovery int

const (
	// WALPointInTime, the default, opens up to the last intact record of
	// the newest WAL, like Pebble (and RocksDB's mode of the same name),
	// and logs an error through the Pebble logger naming the log, the
	// offset and how many bytes after it are dropped. A crash during a
	// write leaves such a tail too, so refusing to open would make every
	// power loss a manual repair.
	WALPointInTime WALRecovery = iota
	// WALStrict refuses to open, with an error wrapping kv.ErrCorrupt, when
	// the newest WAL does not end cleanly. Open with WALPointInTime to
	// accept the loss.
	WALStrict
)

// walName matches the name of a WAL file (WAL failover's secondary
// segments, NNNNNN-NNN.log, are not checked).
var walName = regexp.MustCompile(`^([0-9]+)\.log$`)

// checkWALTail reads the newest WAL in po's WAL directory (dir unless
// po.WALDir is set) and reports a tail that replay would drop: logged in
// WALPointInTime mode, an error in WALStrict mode.
func checkWALTail(po *pebble.Options, dir string, mode WALRecovery, logger pebble.Logger) error {
	fs := po.FS
	if fs == nil {
		fs = vfs.Default
	}
	if po.WALDir != "" {
		dir = po.WALDir
	}
	names, err := fs.List(dir)
	if err != nil {
		return nil // a new store: Pebble creates the directory
	}
	var newest string
	var num uint64
	for _, n := range names {
		m := walName.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		if v, err := strconv.ParseUint(m[1], 10, 64); err == nil && (newest == "" || v > num) {
			newest, num = n, v
		}
	}
	if newest == "" {
		return nil
	}
	path := fs.PathJoin(dir, newest)
	tail, err := damagedTail(fs, path, num)
	if err != nil || tail == nil {
		return err
	}
	msg := fmt.Sprintf("the newest write-ahead log %s does not end cleanly: replay stops at offset %d (%v), and %d bytes after it are not replayed; "+
		"writes recorded there are lost (after a power loss during a write, that is the unacknowledged write; otherwise the log is damaged)",
		path, tail.offset, tail.cause, tail.dropped)
	if mode == WALStrict {
		return fmt.Errorf("%w: %s; open with pebblekv.WALPointInTime to accept the loss", kv.ErrCorrupt, msg)
	}
	logger.Errorf("pebblekv: %s", msg)
	return nil
}

// walTail describes the end of a WAL that replay drops.
type walTail struct {
	offset  int64 // where replay stops: the start of the damaged record
	dropped int64 // bytes from offset to the end of the file
	cause   error
}

// damagedTail reads the WAL at path with Pebble's record reader and returns
// its damaged tail, or nil when it ends cleanly: with its end-of-log
// trailer, at the end of the file, or followed by zeros only.
func damagedTail(fs vfs.FS, path string, num uint64) (*walTail, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pebblekv: reading the WAL: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pebblekv: reading the WAL: %w", err)
	}
	r := newRecordReader(record.NewReader, f, num)
	for {
		offset := r.Offset()
		rec, err := r.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, rec)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			return nil, nil
		case !record.IsInvalidRecord(err) && !errors.Is(err, record.ErrUnexpectedEOF):
			return nil, fmt.Errorf("pebblekv: reading the WAL %s: %w", path, err)
		}
		zeros, zerr := zeroFrom(f, offset, st.Size())
		if zerr != nil {
			return nil, fmt.Errorf("pebblekv: reading the WAL %s: %w", path, zerr)
		}
		if zeros {
			return nil, nil
		}
		return &walTail{offset: offset, dropped: st.Size() - offset, cause: err}, nil
	}
}

// zeroFrom reports whether f holds only zero bytes from offset to size (a
// log that stops, followed by preallocated space).
func zeroFrom(f vfs.File, offset, size int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for pos := offset; pos < size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		pos += int64(n)
		if err != nil && !(errors.Is(err, io.EOF) && pos >= size) {
			return false, err
		}
	}
	return true, nil
}

// newRecordReader calls record.NewReader, whose log number parameter has a
// type of Pebble's internal packages; N is inferred from it.
func newRecordReader[N ~uint64](newReader func(io.Reader, N) *record.Reader, r io.Reader, num uint64) *record.Reader {
	return newReader(r, N(num))
}
