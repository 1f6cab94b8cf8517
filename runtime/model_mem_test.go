package runtime_test

import (
	"testing"

	"github.com/protoql/protoql/internal/runtimetest"
	"github.com/protoql/protoql/kv/memkv"
)

func TestModelMemkv(t *testing.T) {
	t.Parallel()
	for seed := range uint64(8) {
		runtimetest.Model(t, memkv.New(), seed, 400)
	}
}

func TestModelApartMemkv(t *testing.T) {
	t.Parallel()
	for seed := range uint64(8) {
		runtimetest.ModelApart(t, memkv.New(), seed, 400)
	}
}
