package tuple

import (
	"encoding/hex"
	"errors"
	"math"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeErrors covers every class of non-canonical input. Offsets index
// the whole key.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		key    string // hex
		offset int
		msg    string
	}{
		{"truncated tag", "f901", 0, "truncated tag"},
		{"truncated tag after element", "10f9", 1, "truncated tag"},
		{"truncated 5-byte tag", "fc01ffff", 0, "truncated tag"},
		{"non-minimal tag", "f810", 0, "non-minimal tag"},
		{"non-minimal tag leading zero", "f900f8", 0, "non-minimal tag"},
		{"field 0 unit", "00", 0, "field number 0"},
		{"field 0 bytes", "05", 0, "field number 0"},
		{"field 0 after element", "100f", 1, "field number 0"},
		{"field above MaxField", "fc0200000000", 0, "field number 536870912 exceeds MaxField"},
		{"kind 6", "16", 0, "invalid kind 6"},
		{"kind 7", "17", 0, "invalid kind 7"},
		{"kind 8", "18", 0, "invalid kind 8"},
		{"kind 14", "1e", 0, "invalid kind 14"},
		{"kind 15", "1f", 0, "invalid kind 15"},
		{"truncated bool", "11", 1, "truncated bool"},
		{"invalid bool", "1102", 1, "invalid bool"},
		{"invalid bool desc", "1900", 1, "invalid bool"},
		{"truncated int", "12", 1, "truncated int"},
		{"truncated int payload", "12f901", 1, "truncated int"},
		{"truncated int min", "1200800000", 1, "truncated int"},
		{"truncated int desc", "1a06", 1, "truncated int"},
		{"non-minimal int positive", "12f877", 1, "non-minimal int"},
		{"non-minimal int positive leading zero", "12f900ff", 1, "non-minimal int"},
		{"non-minimal int negative", "120788", 1, "non-minimal int"},
		{"non-minimal int negative leading zero", "1206ff00", 1, "non-minimal int"},
		{"non-minimal int desc positive", "1a0788", 1, "non-minimal int"},
		{"non-minimal int desc positive leading zero", "1a06ff00", 1, "non-minimal int"},
		{"non-minimal int desc negative", "1af877", 1, "non-minimal int"},
		{"non-minimal int desc negative leading zero", "1af900ff", 1, "non-minimal int"},
		{"int above MaxInt64", "12ff8000000000000000", 1, "int out of range"},
		{"int below MinInt64", "12007fffffffffffffff", 1, "int out of range"},
		{"int desc above MaxInt64", "1a007fffffffffffffff", 1, "int out of range"},
		{"truncated uint", "13", 1, "truncated uint"},
		{"truncated uint payload", "13ff00", 1, "truncated uint"},
		{"truncated uint desc", "1b06", 1, "truncated uint"},
		{"non-minimal uint", "13f8f7", 1, "non-minimal uint"},
		{"non-minimal uint leading zero", "13f900ff", 1, "non-minimal uint"},
		{"non-minimal uint desc", "1b0708", 1, "non-minimal uint"},
		{"non-minimal uint desc leading zero", "1b06ff00", 1, "non-minimal uint"},
		{"missing terminator empty", "14", 1, "missing terminator"},
		{"missing terminator", "1461", 1, "missing terminator"},
		{"missing terminator after escape byte", "146100", 1, "missing terminator"},
		{"missing terminator after escape", "146100ff", 1, "missing terminator"},
		{"missing terminator bytes desc", "1d9e", 1, "missing terminator"},
		{"missing terminator desc half", "1c9eff", 1, "missing terminator"},
		{"asc terminator in desc", "1c9e0000", 1, "missing terminator"},
		{"bad escape", "1461000100", 3, "bad escape"},
		{"bad escape desc", "1c9efffeffff", 3, "bad escape"},
		{"bad escape bytes in later element", "10156100610000", 4, "bad escape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := mustHex(t, tt.key)
			_, err := Decode(key)
			checkDecodeError(t, "Decode", err, tt.offset, tt.msg)
			// The element functions see only the element that fails.
			start := 0
			for start < len(key) {
				n, err := SkipElement(key[start:])
				if err != nil {
					break
				}
				start += n
			}
			_, _, err = DecodeElement(key[start:])
			checkDecodeError(t, "DecodeElement", err, tt.offset-start, tt.msg)
			_, err = SkipElement(key[start:])
			checkDecodeError(t, "SkipElement", err, tt.offset-start, tt.msg)
		})
	}
}

func checkDecodeError(t *testing.T, fn string, err error, offset int, msg string) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("%s: got error %v, want one matching ErrMalformed", fn, err)
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("%s: got error %T, want *DecodeError", fn, err)
	}
	if de.Offset != offset || de.Msg != msg {
		t.Errorf("%s: got offset %d %q, want offset %d %q", fn, de.Offset, de.Msg, offset, msg)
	}
}

func TestDecodeErrorString(t *testing.T) {
	t.Parallel()
	_, err := Decode(mustHex(t, "1461000100"))
	if got, want := err.Error(), "tuple: offset 3: bad escape"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if errors.Is(err, ErrSyntax) {
		t.Errorf("decode error matches ErrSyntax")
	}
}

func TestDecodeEmpty(t *testing.T) {
	t.Parallel()
	if es, err := Decode(nil); err != nil || len(es) != 0 {
		t.Errorf("Decode(nil) = %v, %v, want no elements", es, err)
	}
	_, _, err := DecodeElement(nil)
	checkDecodeError(t, "DecodeElement", err, 0, "truncated tag")
	_, err = SkipElement(nil)
	checkDecodeError(t, "SkipElement", err, 0, "truncated tag")
	_, _, _, err = DecodeTag(nil)
	checkDecodeError(t, "DecodeTag", err, 0, "truncated tag")
}

func TestDecodeElement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string // hex; may hold more than one element
		want Element
		n    int
	}{
		{"10", Element{Field: 1, Kind: KindUnit}, 1},
		{"f90100f0", Element{Field: 16, Kind: KindUnit}, 3},
		{"19fe", Element{Field: 1, Kind: KindBool.Descending(), Bool: true}, 2},
		{"12008000000000000000", Element{Field: 1, Kind: KindInt, Int: math.MinInt64}, 10},
		{"1af87810", Element{Field: 1, Kind: KindInt.Descending(), Int: -121}, 3},
		{"1b000000000000000000", Element{Field: 1, Kind: KindUint.Descending(), Uint: math.MaxUint64}, 10},
		{"146100ff000010", Element{Field: 1, Kind: KindString, Bytes: []byte("a\x00")}, 6},
		{"1d00ffff", Element{Field: 1, Kind: KindBytes.Descending(), Bytes: []byte{0xff}}, 4},
		{"fc01fffffffdffff", Element{Field: MaxField, Kind: KindBytes.Descending(), Bytes: []byte{}}, 8},
	}
	for _, tt := range tests {
		b := mustHex(t, tt.key)
		got, n, err := DecodeElement(b)
		if err != nil || n != tt.n || !equalElement(got, tt.want) {
			t.Errorf("DecodeElement(%s) = %+v, %d, %v, want %+v, %d", tt.key, got, n, err, tt.want, tt.n)
		}
		if n, err := SkipElement(b); err != nil || n != tt.n {
			t.Errorf("SkipElement(%s) = %d, %v, want %d", tt.key, n, err, tt.n)
		}
		if got := got.Append(nil); string(got) != string(b[:tt.n]) {
			t.Errorf("Append of DecodeElement(%s) = %x, want %x", tt.key, got, b[:tt.n])
		}
		field, k, tn, err := DecodeTag(b)
		if err != nil || field != tt.want.Field || k != tt.want.Kind || tn > tt.n {
			t.Errorf("DecodeTag(%s) = %d, %v, %d, %v, want %d, %v", tt.key, field, k, tn, err, tt.want.Field, tt.want.Kind)
		}
	}
}

// TestDecodeAliasing checks the documented ownership of Element.Bytes.
func TestDecodeAliasing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key     []byte
		aliases bool
	}{
		{AppendString(nil, 1, Asc, "alice"), true},
		{AppendBytes(nil, 1, Asc, []byte("alice")), true},
		{AppendString(nil, 1, Asc, "al\x00ice"), false},
		{AppendString(nil, 1, Desc, "alice"), false},
	}
	for _, tt := range tests {
		e, _, err := DecodeElement(tt.key)
		if err != nil {
			t.Fatal(err)
		}
		tt.key[len(tt.key)-3] ^= 0x55 // the last byte of the value
		aliased := e.Bytes[len(e.Bytes)-1] != 'e'
		if aliased != tt.aliases {
			t.Errorf("DecodeElement(%s): got aliased %v, want %v", Format(tt.key), aliased, tt.aliases)
		}
		if cap(e.Bytes) != len(e.Bytes) {
			t.Errorf("DecodeElement(%s): got cap %d, want len %d so appends cannot clobber the key", Format(tt.key), cap(e.Bytes), len(e.Bytes))
		}
	}
}

func TestDecodeElementNoAlloc(t *testing.T) {
	key := AppendUnit(nil, 1)
	key = AppendString(key, 1, Asc, "alice")
	key = AppendInt(key, 3, Desc, -5)
	key = AppendUint(key, 4, Asc, 1<<40)
	key = AppendBool(key, 5, Asc, true)
	allocs := testing.AllocsPerRun(100, func() {
		for off := 0; off < len(key); {
			_, n, err := DecodeElement(key[off:])
			if err != nil {
				t.Fatal(err)
			}
			off += n
		}
	})
	if allocs != 0 {
		t.Errorf("got %v allocs per run, want 0", allocs)
	}
}
