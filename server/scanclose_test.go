package server_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// closeFailStore is a store whose iterators work and, while fail is set,
// close and then fail with errCloseFailed.
type closeFailStore struct {
	kv.Store
	fail atomic.Bool
}

var errCloseFailed = errors.New("test: iterator Close failed")

func (s *closeFailStore) NewIter(ctx context.Context, o kv.IterOptions) (kv.Iterator, error) {
	it, err := s.Store.NewIter(ctx, o)
	if err != nil {
		return nil, err
	}
	return failingClose{it, s}, nil
}

type failingClose struct {
	kv.Iterator
	s *closeFailStore
}

func (it failingClose) Close() error {
	if err := it.Iterator.Close(); err != nil || !it.s.fail.Load() {
		return err
	}
	return errCloseFailed
}

// TestKVScanReportsCloseError: a KVService Scan whose store iterator
// fails to close ends with an error after its pairs, not as a complete
// scan.
func TestKVScanReportsCloseError(t *testing.T) {
	store := &closeFailStore{Store: memkv.New()}
	seed(t, store)
	f := start(t, store)
	store.fail.Store(true)
	stream, err := f.kvc.Scan(t.Context(), &protoqlv1.ScanRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			t.Fatalf("the scan ended complete after %d pairs; want an error after them", n)
		}
		if err != nil {
			// An internal error reaches the client by id; the server's log
			// holds it.
			if logs := f.logs.String(); !strings.Contains(logs, errCloseFailed.Error()) {
				t.Errorf("the scan ended with %v, and the server logged no Close error:\n%s", err, logs)
			}
			break
		}
		n += len(resp.GetPairs())
	}
	if n == 0 {
		t.Error("the scan failed before any pair")
	}
}
