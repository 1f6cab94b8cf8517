package server_test

import (
	"io"
	"strings"
	"testing"

	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// TestKVScanReportsCloseError: a KVService Scan whose store iterator
// fails to close ends with an error after its pairs, not as a complete
// scan.
func TestKVScanReportsCloseError(t *testing.T) {
	store := kvtest.NewCloseFails(memkv.New())
	seed(t, store)
	f := start(t, store)
	store.Fail.Store(true)
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
			if logs := f.logs.String(); !strings.Contains(logs, kvtest.ErrCloseFailed.Error()) {
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
