package runtime

import "testing"

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
