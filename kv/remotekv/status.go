package remotekv

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protoql/protoql/kv"
)

// rpcError is a failed call: the server's status, mapped to kv's sentinel
// where one fits. It is the one place where remotekv reads status codes.
type rpcError struct {
	op       string
	sentinel error // nil when no kv sentinel fits
	st       *status.Status
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("remotekv: %s: %s: %s", e.op, e.st.Code(), e.st.Message())
}

// Unwrap returns the sentinel and the status error, for errors.Is.
func (e *rpcError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.st.Err()}
	}
	return []error{e.sentinel, e.st.Err()}
}

// GRPCStatus makes status.FromError return the server's status.
func (e *rpcError) GRPCStatus() *status.Status { return e.st }

var sentinels = map[codes.Code]error{
	codes.InvalidArgument:  kv.ErrInvalid,
	codes.NotFound:         kv.ErrNotFound,
	codes.Aborted:          kv.ErrConflict,
	codes.Canceled:         context.Canceled,
	codes.DeadlineExceeded: context.DeadlineExceeded,
	codes.DataLoss:         kv.ErrCorrupt,
}

// txnError is rpcError for a call of a transaction running under ctx: a
// DeadlineExceeded that is not ctx's own is one of the server's time limits
// on transactions, which ends the transaction with kv.ErrExpired.
func (s *Store) txnError(ctx context.Context, op string, err error) error {
	err = s.rpcError(op, err)
	if e, ok := err.(*rpcError); ok && e.st.Code() == codes.DeadlineExceeded && ctx.Err() == nil {
		e.sentinel = kv.ErrExpired
	}
	return err
}

// rpcError converts a call's error; after Close every error is ErrClosed.
func (s *Store) rpcError(op string, err error) error {
	if s.closed.Load() {
		return errClosed
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("remotekv: %s: %w", op, err)
	}
	return &rpcError{op: op, sentinel: sentinels[st.Code()], st: st}
}
