package runtime

import (
	"reflect"
	"testing"
	"unsafe"
)

// TestExecTrim checks that a pooled execution keeps no buffer grown past
// maxPooledBuf, the per-depth key buffers and map bounds included, and
// keeps the small ones for reuse.
func TestExecTrim(t *testing.T) {
	big := func() []byte { return make([]byte, 0, maxPooledBuf+1) }
	small := func() []byte { return make([]byte, 0, 64) }
	e := &exec{
		scratch: big(), rootBuf: big(), underBuf: big(), prefixBuf: big(), elemBuf: small(),
		kb: [][]byte{small(), big(), small()},
		mb: [][]byte{big(), small()},
	}
	e.trim()
	for name, b := range map[string][]byte{
		"scratch": e.scratch, "rootBuf": e.rootBuf, "underBuf": e.underBuf, "prefixBuf": e.prefixBuf,
		"kb[1]": e.kb[1], "mb[0]": e.mb[0],
	} {
		if cap(b) > maxPooledBuf {
			t.Errorf("%s: capacity %d kept past trim", name, cap(b))
		}
	}
	for name, b := range map[string][]byte{"elemBuf": e.elemBuf, "kb[0]": e.kb[0], "kb[2]": e.kb[2], "mb[1]": e.mb[1]} {
		if cap(b) != 64 {
			t.Errorf("%s: capacity %d, want the small buffer (64) kept", name, cap(b))
		}
	}
}

// TestExecTrimEveryBuffer checks that trim drops every byte buffer field
// of exec grown past maxPooledBuf, so that a buffer added to exec without
// a line in trim (as scopeBuf and targetBuf once needed) fails here. kept
// and resume are not buffers of the exec's own: release sets them to nil.
func TestExecTrimEveryBuffer(t *testing.T) {
	notOwn := map[string]bool{"kept": true, "resume": true}
	var e exec
	v := reflect.ValueOf(&e).Elem()
	bytesType := reflect.TypeFor[[]byte]()
	var names []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type != bytesType || notOwn[f.Name] {
			continue
		}
		names = append(names, f.Name)
		field := reflect.NewAt(f.Type, unsafe.Pointer(v.Field(i).UnsafeAddr())).Elem()
		field.Set(reflect.ValueOf(make([]byte, 0, maxPooledBuf+1)))
	}
	if len(names) < 11 {
		t.Fatalf("found %d byte buffers in exec (%v), want at least the 11 trim knows", len(names), names)
	}
	// The key buffers of each depth (kb) and the map scans' bounds (mb):
	// a grown one dropped, a small one kept.
	for _, bufs := range []*[][]byte{&e.kb, &e.mb} {
		*bufs = [][]byte{make([]byte, 0, 8), make([]byte, 0, maxPooledBuf+1), make([]byte, 0, 8)}
	}
	e.trim()
	for _, name := range names {
		if c := v.FieldByName(name).Cap(); c > maxPooledBuf {
			t.Errorf("%s: capacity %d kept past trim", name, c)
		}
	}
	for name, bufs := range map[string][][]byte{"kb": e.kb, "mb": e.mb} {
		for i, b := range bufs {
			switch c := cap(b); {
			case c > maxPooledBuf:
				t.Errorf("%s[%d]: capacity %d kept past trim", name, i, c)
			case i != 1 && c != 8:
				t.Errorf("%s[%d]: capacity %d after trim, want the small buffer's 8 kept", name, i, c)
			}
		}
	}
}
