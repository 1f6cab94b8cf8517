package tuple

import (
	"encoding/hex"
	"math"
	"testing"
)

// TestAppendVectors checks encodings computed by hand from the package doc,
// independently of the golden file (which the code itself writes).
func TestAppendVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"unit 1", AppendUnit(nil, 1), "10"},
		{"unit 15", AppendUnit(nil, 15), "f0"},
		{"unit 16", AppendUnit(nil, 16), "f90100"},
		{"bool desc 15", AppendBool(nil, 15, Desc, false), "f8f9ff"},
		{"bytes desc MaxField", AppendBytes(nil, MaxField, Desc, nil), "fc01fffffffdffff"},
		{"bool false", AppendBool(nil, 1, Asc, false), "1100"},
		{"bool true", AppendBool(nil, 1, Asc, true), "1101"},
		{"bool desc true", AppendBool(nil, 1, Desc, true), "19fe"},
		{"int 0", AppendInt(nil, 1, Asc, 0), "1280"},
		{"int -1", AppendInt(nil, 1, Asc, -1), "127f"},
		{"int 119", AppendInt(nil, 1, Asc, 119), "12f7"},
		{"int -120", AppendInt(nil, 1, Asc, -120), "1208"},
		{"int 120", AppendInt(nil, 1, Asc, 120), "12f878"},
		{"int -121", AppendInt(nil, 1, Asc, -121), "120787"},
		{"int 255", AppendInt(nil, 1, Asc, 255), "12f8ff"},
		{"int 256", AppendInt(nil, 1, Asc, 256), "12f90100"},
		{"int -256", AppendInt(nil, 1, Asc, -256), "120700"},
		{"int -257", AppendInt(nil, 1, Asc, -257), "1206feff"},
		{"int max", AppendInt(nil, 1, Asc, math.MaxInt64), "12ff7fffffffffffffff"},
		{"int min", AppendInt(nil, 1, Asc, math.MinInt64), "12008000000000000000"},
		{"int desc 0", AppendInt(nil, 1, Desc, 0), "1a7f"},
		{"int desc -121", AppendInt(nil, 1, Desc, -121), "1af878"},
		{"int desc min", AppendInt(nil, 1, Desc, math.MinInt64), "1aff7fffffffffffffff"},
		{"uint 0", AppendUint(nil, 1, Asc, 0), "1300"},
		{"uint 247", AppendUint(nil, 1, Asc, 247), "13f7"},
		{"uint 248", AppendUint(nil, 1, Asc, 248), "13f8f8"},
		{"uint 256", AppendUint(nil, 1, Asc, 256), "13f90100"},
		{"uint max", AppendUint(nil, 1, Asc, math.MaxUint64), "13ffffffffffffffffff"},
		{"uint desc 0", AppendUint(nil, 1, Desc, 0), "1bff"},
		{"uint desc max", AppendUint(nil, 1, Desc, math.MaxUint64), "1b000000000000000000"},
		{"string empty", AppendString(nil, 1, Asc, ""), "140000"},
		{"string nul", AppendString(nil, 1, Asc, "\x00"), "1400ff0000"},
		{"string ff", AppendString(nil, 1, Asc, "\xff"), "14ff0000"},
		{"string a", AppendString(nil, 1, Asc, "a"), "14610000"},
		{"string a nul", AppendString(nil, 1, Asc, "a\x00"), "146100ff0000"},
		{"string desc empty", AppendString(nil, 1, Desc, ""), "1cffff"},
		{"string desc nul", AppendString(nil, 1, Desc, "\x00"), "1cff00ffff"},
		{"string desc ff", AppendString(nil, 1, Desc, "\xff"), "1c00ffff"},
		{"string desc a nul", AppendString(nil, 1, Desc, "a\x00"), "1c9eff00ffff"},
		{"bytes nul nul", AppendBytes(nil, 1, Asc, []byte{0, 0}), "1500ff00ff0000"},
		{"append to prefix", AppendUnit([]byte{0xAA}, 2), "aa20"},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(tt.got); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestAppendTagPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field uint32
		kind  Kind
	}{
		{0, KindUnit},
		{MaxField + 1, KindUnit},
		{math.MaxUint32, KindInt},
		{1, 6},
		{1, 8},
		{1, 16},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendTag(nil, %d, %d) did not panic", tt.field, tt.kind)
				}
			}()
			AppendTag(nil, tt.field, tt.kind)
		}()
	}
}

// TestAppendNoAlloc checks that encoding into a buffer with room does not
// allocate.
func TestAppendNoAlloc(t *testing.T) {
	buf := make([]byte, 0, 128)
	b := []byte("a\x00b")
	allocs := testing.AllocsPerRun(100, func() {
		k := AppendUnit(buf[:0], 1)
		k = AppendString(k, 1, Asc, "a\x00lice")
		k = AppendString(k, 2, Desc, "bob")
		k = AppendBytes(k, 3, Desc, b)
		k = AppendBytes(k, 3, Asc, b)
		k = AppendInt(k, 4, Desc, -1700000000000000)
		k = AppendUint(k, 5, Asc, math.MaxUint64)
		_ = AppendBool(k, 6, Desc, true)
	})
	if allocs != 0 {
		t.Errorf("got %v allocs per run, want 0", allocs)
	}
}
