package runtime_test

import (
	"errors"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/pebblekv"
	"github.com/protoql/protoql/runtime"
)

func isNotFound(err error) bool { return errors.Is(err, runtime.ErrNotFound) }

// openPebble opens an unsynced Pebble store in a temp dir, closed at the
// end of the test (tests need no durability; the engine's own tests check
// it).
func openPebble(t testing.TB) kv.Store {
	t.Helper()
	s, err := pebblekv.Open(t.TempDir(), pebblekv.WithSync(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
