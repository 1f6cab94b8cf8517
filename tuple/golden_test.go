package tuple

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/protoql/protoql/internal/golden"
)

const goldenFile = "testdata/golden.txt"

// goldenKeys returns the keys whose bytes the golden file pins.
func goldenKeys() [][]byte {
	var keys [][]byte
	add := func(k []byte) { keys = append(keys, k) }
	for _, f := range []uint32{1, 15, 16, 1000, 1 << 20, MaxField} {
		add(AppendUnit(nil, f))
		add(AppendInt(nil, f, Desc, 1))
	}
	for _, dir := range []Direction{Asc, Desc} {
		add(AppendBool(nil, 2, dir, false))
		add(AppendBool(nil, 2, dir, true))
		for _, v := range []int64{math.MinInt64, -1 << 32, -257, -256, -121, -120, -1, 0, 1,
			119, 120, 247, 248, 255, 256, 1 << 32, math.MaxInt64} {
			add(AppendInt(nil, 3, dir, v))
		}
		for _, v := range []uint64{0, 1, 119, 120, 247, 248, 255, 256, 65535, 65536, 1 << 32,
			math.MaxInt64, math.MaxUint64} {
			add(AppendUint(nil, 4, dir, v))
		}
		for _, v := range []string{"", "\x00", "\x00\x00", "\x01", "\xff", "\xff\x00", "a",
			"a\x00", "a\x00b", "ab", "héllo", "\"quote\"\n"} {
			add(AppendString(nil, 5, dir, v))
			add(AppendBytes(nil, 6, dir, []byte(v)))
		}
	}
	k := AppendUnit(nil, 1)
	k = AppendString(k, 1, Asc, "alice")
	k = AppendUnit(k, 5)
	k = AppendString(k, 5, Desc, "s1")
	k = AppendInt(k, 7, Asc, -3)
	add(AppendUint(k, 8, Asc, 42))
	return keys
}

// goldenText renders keys as the golden file holds them: per line, the
// text form, padding, then the hex bytes (hex has no spaces, so the last
// field of a line is the hex).
func goldenText(keys [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("# tuple golden vectors: text form, then hex. Rewrite with go test ./tuple -update.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%-40s %x\n", Format(k), k)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	golden.File(t, goldenFile, goldenText(goldenKeys()))
}

// TestGoldenFile reads the committed vectors back: each text parses to its
// bytes, and the bytes decode, re-encode and format to the text.
func TestGoldenFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		j := strings.LastIndexByte(line, ' ')
		text, want := strings.TrimRight(line[:j], " "), mustHex(t, line[j+1:])
		if got, err := Parse(text); err != nil || !bytes.Equal(got, want) {
			t.Errorf("line %d: Parse(%s) = %x, %v, want %x", i+1, text, got, err, want)
		}
		if got := Format(want); got != text {
			t.Errorf("line %d: Format(%x) = %s, want %s", i+1, want, got, text)
		}
		es, err := Decode(want)
		if err != nil {
			t.Errorf("line %d: Decode(%x): %v", i+1, want, err)
		}
		var re []byte
		for _, e := range es {
			re = e.Append(re)
		}
		if !bytes.Equal(re, want) {
			t.Errorf("line %d: re-encoded %x, want %x", i+1, re, want)
		}
	}
}
