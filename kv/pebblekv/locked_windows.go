package pebblekv

import (
	"errors"
	"syscall"
)

// errorSharingViolation is Windows' ERROR_SHARING_VIOLATION, returned when
// Pebble's LOCK file is already open with exclusive sharing.
const errorSharingViolation syscall.Errno = 32

func isSharingViolation(err error) bool { return errors.Is(err, errorSharingViolation) }
