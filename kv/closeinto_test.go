package kv_test

import (
	"errors"
	"testing"

	"github.com/protoql/protoql/kv"
)

// closeErrIter is an iterator whose Close returns err (and counts).
type closeErrIter struct {
	kv.Iterator
	err    error
	closed int
}

func (it *closeErrIter) Close() error { it.closed++; return it.err }

// TestCloseInto: the Close error becomes the result only when there is
// none, and the iterator is closed either way.
func TestCloseInto(t *testing.T) {
	own, closeErr := errors.New("own"), errors.New("close")
	for _, c := range []struct {
		name          string
		before, close error
		want          error
	}{
		{"no error, Close fails", nil, closeErr, closeErr},
		{"own error kept over Close's", own, closeErr, own},
		{"own error, Close succeeds", own, nil, own},
		{"neither", nil, nil, nil},
	} {
		it := &closeErrIter{err: c.close}
		err := c.before
		kv.CloseInto(it, &err)
		if err != c.want || it.closed != 1 {
			t.Errorf("%s: got %v after %d closes, want %v after 1", c.name, err, it.closed, c.want)
		}
	}
}
