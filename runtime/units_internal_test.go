package runtime

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/protoql/protoql/tuple"
)

// TestLastUnit checks stepper.lastUnit, which compares a unit's prefix end
// with hi without building it, against building it, on short keys over
// the bytes where carries and prefixes matter.
func TestLastUnit(t *testing.T) {
	alphabet := []byte{0x00, 0x01, 0x02, 0xFE, 0xFF}
	rnd := rand.New(rand.NewPCG(1, 2))
	gen := func() []byte {
		b := make([]byte, rnd.IntN(5))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		return b
	}
	for range 200_000 {
		u, hi := gen(), gen()
		if len(hi) == 0 {
			continue // hi nil means unbounded; next does not ask
		}
		end, ok := tuple.AppendPrefixEnd(nil, u)
		want := !ok || bytes.Compare(end, hi) >= 0
		s := stepper{unit: u, hi: hi}
		if got := s.lastUnit(); got != want {
			t.Fatalf("lastUnit(unit %x, hi %x) = %v, want %v (prefix end %x)", u, hi, got, want, end)
		}
	}
}
