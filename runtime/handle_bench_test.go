package runtime_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// BenchmarkTypedVsRef measures what the generic handles cost over the
// untyped Ref calls they make (which is what the expanded generated code
// of the runtime.Ref API called directly), in one process on one memkv store,
// so that the two sub-benchmarks of each operation compare like with like:
// BenchmarkTypedVsRef/<op>/{ref,typed}.
func BenchmarkTypedVsRef(b *testing.B) {
	const rows = 1000
	ctx := context.Background()
	db := openDB(b, memkv.New())
	t := table(b, db, "User")
	users := must[testpb.UserTable](b)(testpb.NewUserTable(db))
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%05d", i)
		check(b, users.Put(ctx, userWithSessions(ids[i], 10)))
	}
	row := func(i int) runtime.Ref { return must[runtime.Ref](b)(t.Row(protoreflect.ValueOfString(ids[i%rows]))) }
	ops := []struct {
		name       string
		ref, typed func(i int) error
	}{
		{"Get", func(i int) error {
			return db.Get(ctx, row(i), new(testpb.User))
		}, func(i int) error {
			_, err := users.Get(ctx, ids[i%rows])
			return err
		}},
		{"SetBreakout", func(i int) error {
			return db.SetValue(ctx, must[runtime.Ref](b)(row(i).Field(3)), protoreflect.ValueOfInt64(int64(i)))
		}, func(i int) error {
			return users.Row(ids[i%rows]).LastSeenUs().Set(ctx, int64(i))
		}},
		{"SetInlineInEntry", func(i int) error {
			ref := must[runtime.Ref](b)(must[runtime.Ref](b)(row(i).Field(5)).Entry(protoreflect.ValueOfString("session-03")))
			return db.UpdateInline(ctx, ref, func(m protoreflect.Message) error {
				m.Set(m.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfInt64(int64(i)))
				return nil
			})
		}, func(i int) error {
			return users.Row(ids[i%rows]).Sessions().Entry("session-03").ExpiresUs().Set(ctx, int64(i))
		}},
		{"ScanMap", func(i int) error {
			for e, err := range db.ScanMap(ctx, must[runtime.Ref](b)(row(i).Field(5)), runtime.KeyRange{}, runtime.ScanOptions{}) {
				if err != nil {
					return err
				}
				_ = e.Value.Message().Interface().(*testpb.Session)
			}
			return nil
		}, func(i int) error {
			for _, err := range users.Row(ids[i%rows]).Sessions().Scan(ctx, runtime.ScanOptions{}) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, op := range ops {
		for _, v := range []struct {
			name string
			fn   func(int) error
		}{{"ref", op.ref}, {"typed", op.typed}} {
			b.Run(op.name+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					check(b, v.fn(i))
					i++
				}
			})
		}
	}
}
