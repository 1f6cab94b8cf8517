package tuple

import (
	"bytes"
	"errors"
	"testing"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string // hex
		want string
	}{
		{"", ""},
		{"10", "1"},
		{"1014616c6963650000", `1 / 1:"alice"`},
		{"1cffff", `1:~""`},
		{"650000", `6:0x`},
		{"6d00ffff", `6:~0xff`},
		{"10ff", `1 / !malformed@1:ff`},
		{"00", `!malformed@0:00`},
		{"101461", `1 / !malformed@1:1461`},
		{"1012f877", `1 / !malformed@1:12f877`},
	}
	for _, tt := range tests {
		key := mustHex(t, tt.key)
		if got := Format(key); got != tt.want {
			t.Errorf("Format(%s) = %s, want %s", tt.key, got, tt.want)
		}
		if got, err := Parse(tt.want); err != nil || !bytes.Equal(got, key) {
			t.Errorf("Parse(%s) = %x, %v, want %s", tt.want, got, err, tt.key)
		}
	}
}

func TestElementString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    Element
		want string
	}{
		{Element{Field: 3, Kind: KindUnit}, "3"},
		{Element{Field: 3, Kind: KindBool, Bool: true}, "3:true"},
		{Element{Field: 3, Kind: KindInt.Descending(), Int: -7}, "3:~-7"},
		{Element{Field: 3, Kind: KindUint, Uint: 7}, "3:7u"},
		{Element{Field: 3, Kind: KindString.Descending(), Bytes: []byte("x\x00")}, `3:~"x\x00"`},
		{Element{Field: 3, Kind: KindBytes, Bytes: []byte{0xAB}}, "3:0xab"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%+v.String() = %s, want %s", tt.e, got, tt.want)
		}
	}
}

// TestParseLenient covers spellings Format does not write but Parse reads.
func TestParseLenient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text, want string
	}{
		{"  1/2 ", "1 / 2"},
		{`1:"a b / c"/2:0xAB`, `1:"a b / c" / 2:0xab`},
		{`1:+5 / 2:007u / 3:0xAB`, `1:5 / 2:7u / 3:0xab`},
		{`5:"\u00e9\t"`, `5:"é\t"`},
	}
	for _, tt := range tests {
		key, err := Parse(tt.text)
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.text, err)
			continue
		}
		if got := Format(key); got != tt.want {
			t.Errorf("Format(Parse(%s)) = %s, want %s", tt.text, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text   string
		column int
		msg    string
	}{
		{"x", 1, "expected field number"},
		{"0", 1, "field number 0 outside [1, MaxField]"},
		{"1 / 536870912", 5, "field number 536870912 outside [1, MaxField]"},
		{"99999999999999999999", 1, "field number 99999999999999999999 outside [1, MaxField]"},
		{"1 2", 3, `expected "/" or end of key`},
		{"1 /", 4, `expected element after "/"`},
		{"1 / / 2", 5, "expected field number"},
		{"1:", 3, "expected value"},
		{"1:~", 4, "expected value"},
		{"1:~ / 2", 4, "expected value"},
		{"1:maybe", 3, "invalid value maybe: want true, false, an int, a uint with suffix u, a quoted string or 0x-prefixed hex"},
		{"1:9223372036854775808", 3, "invalid value 9223372036854775808: want true, false, an int, a uint with suffix u, a quoted string or 0x-prefixed hex"},
		{"1:-1u", 3, "invalid uint -1u"},
		{"1:18446744073709551616u", 3, "invalid uint 18446744073709551616u"},
		{"1:0xabc", 3, "invalid hex bytes 0xabc"},
		{"1:0xzz", 3, "invalid hex bytes 0xzz"},
		{`1 / 2:"abc`, 7, "unterminated string"},
		{`1:"abc\"`, 3, "unterminated string"},
		{`1:"\q"`, 3, `invalid string "\q"`},
		{`1:"a"b`, 6, `expected "/" or end of key`},
		{"!malformed@1:ff", 12, "malformed tail offset must be 0"},
		{"1 / !malformed@:ff", 16, "malformed tail offset must be 1"},
		{"!malformed@0", 13, `expected ":" after malformed tail offset`},
		{"!malformed@0:", 14, "malformed tail needs non-empty hex bytes"},
		{"!malformed@0:f", 14, "malformed tail needs non-empty hex bytes"},
		{"!malformed@0:ff / 1", 17, "text after malformed tail"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%s): got error %v, want one matching ErrSyntax", tt.text, err)
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%s): got error %T, want *SyntaxError", tt.text, err)
			continue
		}
		if se.Column != tt.column || se.Msg != tt.msg {
			t.Errorf("Parse(%s): got column %d %q, want column %d %q", tt.text, se.Column, se.Msg, tt.column, tt.msg)
		}
	}
}

func TestSyntaxErrorString(t *testing.T) {
	t.Parallel()
	_, err := Parse("1 2")
	if got, want := err.Error(), `tuple: column 3: expected "/" or end of key`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if errors.Is(err, ErrMalformed) {
		t.Errorf("syntax error matches ErrMalformed")
	}
}
