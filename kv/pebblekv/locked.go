package pebblekv

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
)

// ErrLocked reports that another process has the database open: Pebble
// holds an exclusive lock on the directory's LOCK file for as long as a
// database is open, so a second process (a CLI next to a running service,
// say) cannot open it. Read a live database through the process that owns
// it instead, for example over `protoql serve` with `--remote`.
var ErrLocked = errors.New("pebblekv: database in use")

// openError wraps the error of pebble.Open for dir, recognising a held
// directory lock: fcntl reports it as EAGAIN or EACCES (POSIX allows both),
// Windows as a sharing violation.
func openError(dir string, err error) error {
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || isSharingViolation(err) {
		lock := filepath.Join(dir, "LOCK")
		return fmt.Errorf("%w: %s is open in another process, which holds its lock file %s: %w", ErrLocked, dir, lock, err)
	}
	return fmt.Errorf("pebblekv: open %s: %w", dir, err)
}
