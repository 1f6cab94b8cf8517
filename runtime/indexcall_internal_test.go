package runtime

import (
	"context"
	"reflect"
	"testing"

	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestIndexCallReleaseForgets checks that a released indexCall, which goes
// back to the pool, holds none of the call's values — TableIndex.Get's key
// value (one), the row or map entry it decoded, the table, map and types
// it read, the caller's context and emit — only its method values and its
// bounds buffer, emptied. Every field is given a value first; the check
// after release walks all of them by reflection. (release pools c: the
// test reads it after that, as no other test runs beside this one, which
// is not parallel.)
func TestIndexCallReleaseForgets(t *testing.T) {
	c := indexCallPool.New().(*indexCall)
	msg := (&structpb.Value{}).ProtoReflect()
	c.ctx, c.db, c.ix = context.Background(), &DB{}, &schema.Index{}
	c.lo, c.hi, c.base = []byte("lo"), []byte("hi"), []byte("base")
	c.opts, c.point, c.emitted = ScanOptions{Limit: 1}, true, 1
	c.emit = func(key, wire []byte) (bool, error) { return false, nil }
	c.buf = append(c.buf[:0], "bounds"...)
	c.rowTable, c.rowType, c.row = &Table{}, reflect.TypeFor[int](), msg
	c.one[0] = protoreflect.ValueOfString("user value")
	c.entryRef = Ref{key: []byte("entry")}
	c.keyType, c.valueType = reflect.TypeFor[string](), reflect.TypeFor[int]()
	c.entry = MapEntry{Key: protoreflect.ValueOfString("k"), Value: protoreflect.ValueOfMessage(msg)}
	c.found = true
	checkReleaseForgets(t, c, c.release, func(name string, f reflect.Value) bool {
		switch name {
		case "buf":
			if f.Len() != 0 {
				t.Errorf("buf: length %d after release, want 0", f.Len())
			}
		case "readFn", "emitFn", "rowFn", "entryFn":
			if f.IsNil() {
				t.Errorf("%s: nil after release, want the method value kept", name)
			}
		default:
			return false
		}
		return true
	})
}

// checkReleaseForgets checks a pooled call's release: every field of *c
// is set before (the test gave each a value), and after release every
// field the function kept does not account for (returning true, having
// checked it) is zero.
func checkReleaseForgets(t *testing.T, c any, release func(), kept func(name string, f reflect.Value) bool) {
	t.Helper()
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("%s: the test left it zero", v.Type().Field(i).Name)
		}
	}
	release()
	for i := range v.NumField() {
		name, f := v.Type().Field(i).Name, v.Field(i)
		if !kept(name, f) && !f.IsZero() {
			t.Errorf("%s: kept after release", name)
		}
	}
}
