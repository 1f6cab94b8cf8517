package runtime

import (
	"errors"
	"fmt"

	"github.com/protoql/protoql/tuple"
)

var (
	// ErrNotFound is returned when the object read does not exist.
	ErrNotFound = errors.New("runtime: not found")
	// ErrCorrupt is wrapped by every error about stored data that does not
	// match the schema.
	ErrCorrupt = errors.New("runtime: corrupt data")
	// ErrInvalid is wrapped by errors about a caller's request: a wrong key
	// arity or type, a message of the wrong type, a field that is not stored
	// the way the call needs.
	ErrInvalid = errors.New("runtime: invalid request")
)

// CorruptError names the key whose data does not match the schema.
type CorruptError struct {
	Key []byte
	Msg string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("runtime: corrupt data at key %s (%x): %s", tuple.Format(e.Key), e.Key, e.Msg)
}

// Unwrap makes CorruptError match ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corrupt(key []byte, format string, args ...any) error {
	return &CorruptError{Key: append([]byte(nil), key...), Msg: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// invalidKey is the error of a key value the schema's key codec refused:
// it matches ErrInvalid and the codec's error (schema.ErrKeyValue).
func invalidKey(err error, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalid, fmt.Sprintf(format, args...), err)
}
