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

func TestModelApartPebble(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		runtimetest.ModelApart(t, openPebble(t), seed, 300)
	}
}
