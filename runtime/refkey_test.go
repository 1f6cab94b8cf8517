package runtime_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestRefKeysShared checks the keys of Refs that share a row's key buffer
// against the keys built the old way (a copy per step): Refs stepped into
// from the same parents many times over, in random order, from several
// goroutines at once, with keys short and long (past the buffer), map keys
// ascending and descending. Every key must be the old one, keep its
// capacity at its length, and stay unchanged while other Refs are built.
func TestRefKeysShared(t *testing.T) {
	db := openDB(t, openPebble(t))
	users, err := db.Table("User")
	check(t, err)
	type built struct {
		ref runtime.Ref
		key []byte // a copy, when it was built
	}
	var mu sync.Mutex
	var all []built
	// record checks a new Ref (it may run on any goroutine: it reports
	// with Errorf, and false).
	record := func(t *testing.T, ref runtime.Ref, err error, want []byte) bool {
		t.Helper()
		switch {
		case err != nil:
			t.Error(err)
		case !bytes.Equal(ref.Key(), want):
			t.Errorf("%s: key %x, built the old way %x", ref, ref.Key(), want)
		case cap(ref.Key()) != len(ref.Key()):
			t.Errorf("%s: key capacity %d, length %d", ref, cap(ref.Key()), len(ref.Key()))
		default:
			mu.Lock()
			all = append(all, built{ref, bytes.Clone(ref.Key())})
			mu.Unlock()
			return true
		}
		return false
	}
	str := func(r *rand.Rand) string {
		return strings.Repeat(fmt.Sprint(r.IntN(10)), []int{1, 3, 40, 90}[r.IntN(4)])
	}
	rows := make([]runtime.Ref, 16)
	for i := range rows {
		id := protoreflect.ValueOfString(fmt.Sprintf("user-%d-%s", i, strings.Repeat("x", i*7)))
		ref, err := users.Row(id)
		if !record(t, ref, err, runtime.SlowRowKey(users, id)) {
			t.FailNow()
		}
		rows[i] = ref
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			refs := append([]runtime.Ref(nil), rows...)
			for range 3000 {
				p := refs[r.IntN(len(refs))]
				var next runtime.Ref
				var err error
				var want []byte
				switch p.Kind() {
				case runtime.RefRow:
					num := []protoreflect.FieldNumber{3, 4, 5, 11, 12, 15}[r.IntN(6)]
					want = runtime.SlowFieldKey(p, num)
					next, err = p.Field(num)
				case runtime.RefObject:
					if p.Node() == nil || p.Node().Field(3) == nil {
						continue
					}
					want = runtime.SlowFieldKey(p, 3) // Password.history, Session.attrs
					next, err = p.Field(3)
				case runtime.RefMap:
					var k protoreflect.Value
					if p.SchemaField().MapKey.Kind() == protoreflect.Int64Kind {
						k = protoreflect.ValueOfInt64(r.Int64N(1<<40) - 1<<39)
					} else {
						k = protoreflect.ValueOfString(str(r))
					}
					want = runtime.SlowEntryKey(p, k)
					next, err = p.Entry(k)
				case runtime.RefEntry:
					if p.Node() == nil || p.Node().Field(3) == nil {
						continue
					}
					want = runtime.SlowFieldKey(p, 3)
					next, err = p.Field(3)
				default:
					continue
				}
				if !record(t, next, err, want) {
					return
				}
				refs = append(refs, next)
			}
		})
	}
	wg.Wait()
	kinds := map[runtime.RefKind]int{}
	for _, b := range all {
		kinds[b.ref.Kind()]++
	}
	t.Logf("built %d Refs: %v", len(all), kinds)
	for _, b := range all {
		if !bytes.Equal(b.ref.Key(), b.key) {
			t.Errorf("%s: key changed from %x to %x", b.ref, b.key, b.ref.Key())
		}
	}
}
