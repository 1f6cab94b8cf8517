package tuple

import (
	"bytes"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix, want []byte
	}{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte{0xFF}, nil},
		{[]byte{0xFF, 0xFF}, nil},
		{[]byte{0x00}, []byte{0x01}},
		{[]byte{0x10}, []byte{0x11}},
		{[]byte{0x10, 0xFF}, []byte{0x11}},
		{[]byte{0x10, 0xFE, 0xFF, 0xFF}, []byte{0x10, 0xFF}},
		{AppendString(AppendUnit(nil, 1), 1, Asc, "a"), []byte{0x10, 0x14, 'a', 0x00, 0x01}},
	}
	for _, tt := range tests {
		in := bytes.Clone(tt.prefix)
		got := PrefixEnd(in)
		if !bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", tt.prefix, got, tt.want)
		}
		if !bytes.Equal(in, tt.prefix) {
			t.Errorf("PrefixEnd modified its input: got %x, want %x", in, tt.prefix)
		}
		if tt.want != nil {
			checkPrefixEnd(t, tt.prefix)
		}
	}
}
