package query_test

import (
	"testing"

	"github.com/protoql/protoql/query"
)

// TestNegativeZero checks that -0 is 0 on every integer key, signed or not:
// the literal is in range for both, so refusing it on one is arbitrary.
func TestNegativeZero(t *testing.T) {
	t.Parallel()
	tests := []struct{ neg, zero string }{
		{`Series["cpu", -0]`, `Series["cpu", 0]`},               // uint32
		{`Series["cpu", -000]`, `Series["cpu", 0]`},             // uint32, leading zeros
		{`Series["cpu", -0..7]`, `Series["cpu", 0..7]`},         // uint32 range bound
		{`Inbox["bob", 1, -0]`, `Inbox["bob", 1, 0]`},           // int64
		{`Inbox["bob", -0]`, `Inbox["bob", 0]`},                 // enum
		{`User["a"] { scores[-0] }`, `User["a"] { scores[0] }`}, // int64 map key
	}
	for _, tt := range tests {
		neg, err := query.Compile(catalog(), tt.neg)
		if err != nil {
			t.Errorf("Compile(%s): %v", tt.neg, err)
			continue
		}
		zero, err := query.Compile(catalog(), tt.zero)
		if err != nil {
			t.Fatalf("Compile(%s): %v", tt.zero, err)
		}
		if got, want := neg.Explain(), zero.Explain(); got != want {
			t.Errorf("Explain(%s) =\n%s\nwant the plan of %s:\n%s", tt.neg, got, tt.zero, want)
		}
	}
}
