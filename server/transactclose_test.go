package server_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/kvtest"
	"github.com/protoql/protoql/kv/memkv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// Steps and actions of the Transact tests below.
var (
	txOpen = func(id uint32) *protoqlv1.TransactRequest_Step {
		return &protoqlv1.TransactRequest_Step{Step: &protoqlv1.TransactRequest_Step_Open{Open: &protoqlv1.TransactRequest_OpenIterator{Iterator: id}}}
	}
	txClose = func(id uint32) *protoqlv1.TransactRequest_Step {
		return &protoqlv1.TransactRequest_Step{Step: &protoqlv1.TransactRequest_Step_Close{Close: id}}
	}
	txSet = func(k, v string) *protoqlv1.TransactRequest_Step {
		return &protoqlv1.TransactRequest_Step{Step: &protoqlv1.TransactRequest_Step_Write{Write: &protoqlv1.Operation{
			Kind: protoqlv1.Operation_KIND_SET, Key: []byte(k), Value: []byte(v)}}}
	}
	txFirst = func(id uint32) *protoqlv1.TransactRequest_Seek_ {
		return &protoqlv1.TransactRequest_Seek_{Seek: &protoqlv1.TransactRequest_Seek{Iterator: id, Kind: protoqlv1.TransactRequest_Seek_KIND_FIRST, Page: 1}}
	}
	txGet    = &protoqlv1.TransactRequest_Get{Get: []byte("k")}
	txCommit = &protoqlv1.TransactRequest_Commit{Commit: true}
)

// transactCloseFails serves a store of one pair whose iterators fail to
// close, and runs msgs on one Transact stream (the first begins it, read
// only when readOnly). It returns the answers before the stream ended, the
// server's log, and the error that ended the stream (nil: it ended
// cleanly).
func transactCloseFails(t *testing.T, store *kvtest.CloseFails, readOnly bool, msgs ...*protoqlv1.TransactRequest) (answers []*protoqlv1.TransactResponse, logs string, err error) {
	t.Helper()
	f := start(t, store)
	msgs[0].Begin = &protoqlv1.TransactRequest_Begin{ReadOnly: readOnly}
	stream, err := f.kvc.Transact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the stream ended; Recv has its status
		}
		resp, err := stream.Recv()
		if err != nil {
			return answers, f.logs.String(), err
		}
		answers = append(answers, resp)
	}
	// The stream's end: the server's handler has returned (and logged).
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		return answers, f.logs.String(), err
	}
	return answers, f.logs.String(), nil
}

func closeFailingStore(t *testing.T) *kvtest.CloseFails {
	t.Helper()
	store := kvtest.NewCloseFails(memkv.New())
	if err := store.Apply(t.Context(), batchOf(t, "a", "1")); err != nil {
		t.Fatal(err)
	}
	store.Fail.Store(true)
	return store
}

func batchOf(t *testing.T, k, v string) *kv.Batch {
	t.Helper()
	var b kv.Batch
	if err := b.Set([]byte(k), []byte(v)); err != nil {
		t.Fatal(err)
	}
	return &b
}

// wantCloseError checks that the stream ended with the Internal error of
// an iterator's failed Close, which the server logged, after want answers.
func wantCloseError(t *testing.T, what string, answers []*protoqlv1.TransactResponse, err error, logs string, want int) {
	t.Helper()
	if len(answers) != want {
		t.Errorf("%s: %d answers (%v) before the error, want %d", what, len(answers), answers, want)
	}
	wantCode(t, what, err, codes.Internal)
	if !strings.Contains(logs, kvtest.ErrCloseFailed.Error()) {
		t.Errorf("%s: the server logged no Close error:\n%s", what, logs)
	}
}

// TestTransactCloseStepReportsCloseError: a close step whose iterator
// fails to close fails the transaction, reported by the answer to its
// message (a get here) as any failing step is; so does the open step that
// reuses the id of an open iterator, closing it first.
func TestTransactCloseStepReportsCloseError(t *testing.T) {
	for _, c := range []struct {
		name string
		step *protoqlv1.TransactRequest_Step
	}{
		{"close", txClose(1)},
		{"open reusing the id", txOpen(1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			answers, logs, err := transactCloseFails(t, closeFailingStore(t), false,
				&protoqlv1.TransactRequest{Steps: []*protoqlv1.TransactRequest_Step{txOpen(1)}, Action: txFirst(1)},
				&protoqlv1.TransactRequest{Steps: []*protoqlv1.TransactRequest_Step{c.step}, Action: txGet})
			wantCloseError(t, c.name, answers, err, logs, 1)
		})
	}
}

// TestTransactCommitReportsCloseError: an iterator still open at commit
// is closed before the commit is answered, and its Close error is the
// answer: a read-write transaction writes nothing (its write is not in
// the store afterwards), a read-only one answers the error, not done.
func TestTransactCommitReportsCloseError(t *testing.T) {
	for _, readOnly := range []bool{false, true} {
		store := closeFailingStore(t)
		first := &protoqlv1.TransactRequest{Steps: []*protoqlv1.TransactRequest_Step{txOpen(1)}, Action: txFirst(1)}
		if !readOnly {
			first.Steps = append(first.Steps, txSet("k", "v"))
		}
		answers, logs, err := transactCloseFails(t, store, readOnly, first, &protoqlv1.TransactRequest{Action: txCommit})
		what := map[bool]string{false: "read-write commit", true: "read-only commit"}[readOnly]
		wantCloseError(t, what, answers, err, logs, 1)
		if _, err := store.Get(t.Context(), []byte("k")); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("%s: Get of the transaction's write: %v; want not found, nothing written", what, err)
		}
	}
	// Closed by a close step before the commit, with Close succeeding:
	// the commit writes.
	store := closeFailingStore(t)
	store.Fail.Store(false)
	_, _, err := transactCloseFails(t, store, false,
		&protoqlv1.TransactRequest{Steps: []*protoqlv1.TransactRequest_Step{txOpen(1), txSet("k", "v")}, Action: txFirst(1)},
		&protoqlv1.TransactRequest{Steps: []*protoqlv1.TransactRequest_Step{txClose(1)}, Action: txCommit})
	if err != nil {
		t.Fatalf("commit with Close succeeding: %v", err)
	}
	if v, err := store.Get(t.Context(), []byte("k")); err != nil || string(v) != "v" {
		t.Errorf("commit with Close succeeding: Get = %q, %v; want v", v, err)
	}
}

// TestTransactRollbackLogsCloseError: an iterator still open when the
// client rolls back has no answer left to fail; the server logs its Close
// error rather than lose it.
func TestTransactRollbackLogsCloseError(t *testing.T) {
	answers, logs, err := transactCloseFails(t, closeFailingStore(t), false,
		&protoqlv1.TransactRequest{Steps: []*protoqlv1.TransactRequest_Step{txOpen(1)}, Action: txFirst(1)},
		&protoqlv1.TransactRequest{Action: &protoqlv1.TransactRequest_Rollback{Rollback: true}})
	if err != nil || len(answers) != 2 || !answers[1].GetDone() {
		t.Fatalf("rollback: answers %v, error %v; want a page, then done", answers, err)
	}
	if !strings.Contains(logs, "failed to close") || !strings.Contains(logs, kvtest.ErrCloseFailed.Error()) {
		t.Errorf("the server logged no Close error at rollback:\n%s", logs)
	}
}
