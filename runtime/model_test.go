package runtime_test

import (
	"testing"

	"github.com/protoql/protoql/internal/runtimetest"
)

func TestModelPebble(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		runtimetest.Model(t, openPebble(t), seed, 300)
	}
}
