package kv_test

import (
	"strings"
	"testing"

	"github.com/protoql/protoql/kv"
)

func TestKeyText(t *testing.T) {
	t.Parallel()
	if got, want := kv.KeyText([]byte("ab")), "6162"; got != want {
		t.Errorf("KeyText(ab) = %q, want %q", got, want)
	}
	long := kv.KeyText([]byte(strings.Repeat("k", 1<<20)))
	if !strings.HasPrefix(long, strings.Repeat("6b", 64)+"…") || !strings.HasSuffix(long, "(1048576 bytes)") {
		t.Errorf("KeyText of 1 MiB = %.200q", long)
	}
}
