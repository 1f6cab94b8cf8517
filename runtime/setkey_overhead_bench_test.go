package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/cpubench"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
)

// discardSetter is a store whose one-key writes (kv.KeySetter) do
// nothing, so that a breakout Set on it costs only the runtime's part.
type discardSetter struct{ kv.Store }

func (discardSetter) SetKey(context.Context, []byte, []byte) error { return nil }
func (discardSetter) DeleteKey(context.Context, []byte) error      { return nil }

// BenchmarkSetKeyOverhead measures the runtime's own cost of a breakout
// field's typed Set, Row(id).LastSeenUs().Set(ctx, v): the row's key, the
// field's key, the checks, the value's encoding and the telemetry
// (off), on a store whose SetKey does nothing. What BenchmarkSetters'
// breakout/protoql adds to it is the store's write.
func BenchmarkSetKeyOverhead(b *testing.B) {
	ctx := context.Background()
	db := openDB(b, discardSetter{memkv.New()})
	users := must[testpb.UserTable](b)(testpb.NewUserTable(db))
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
	}
	b.ReportAllocs()
	defer cpubench.Report(b)()
	for i := 0; b.Loop(); i++ {
		if err := users.Row(ids[i%len(ids)]).LastSeenUs().Set(ctx, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
