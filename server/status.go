package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/protoadapt"

	"github.com/protoql/protoql/kv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
	"github.com/protoql/protoql/tuple"
)

// This file is the one place where Go errors become gRPC statuses. Handlers
// return errors from the packages below them (wrapped with %w), and the
// outermost interceptor maps them here.

// Errors of the server itself.
var (
	// errNoSchema: the ProtoQLService needs a stored schema.
	errNoSchema = errors.New("server: the database has no stored schema; open it once with runtime.WithSchema to store one")
	// errBadRequest: a malformed request (a missing field, an unknown
	// enum value, a message out of protocol order).
	errBadRequest = errors.New("server: bad request")
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// errorMapper turns errors into statuses, logging the internal ones.
type errorMapper struct {
	log    *slog.Logger
	nextID atomic.Uint64
}

// Status returns err as the gRPC status error that protoql's server
// answers with, nil for nil. It is the server's own mapping, exported so
// that a service calling the runtime directly answers the same codes:
//
//   - a *query.Error (a mistake in a query or its variables):
//     InvalidArgument with the position, plus a QueryError detail;
//   - a *runtime.LimitError: ResourceExhausted with a LimitExceeded detail
//     carrying the cursor to resume from;
//   - context.Canceled and DeadlineExceeded: Canceled, DeadlineExceeded;
//   - errors wrapping runtime.ErrNotFound or kv.ErrNotFound: NotFound;
//     kv.ErrConflict: Aborted; kv.ErrExpired: DeadlineExceeded;
//     runtime.ErrUniqueViolation: AlreadyExists; runtime.ErrIndexNotReadable:
//     FailedPrecondition;
//     runtime.ErrCorrupt and kv.ErrCorrupt: DataLoss (logged); a metadata
//     key named through the KVService: PermissionDenied; kv.ErrClosed:
//     Unavailable; the ErrInvalid of runtime, kv and schema, and
//     tuple.ErrMalformed: InvalidArgument — each with the error's text;
//   - an error that already is a gRPC status (it has a GRPCStatus method
//     itself, not only wrapped inside): unchanged;
//   - anything else: Internal with a generic message, so that no internal
//     detail reaches a client (the server logs such errors with an id and
//     answers that id).
func Status(err error) error {
	st, _ := statusOf(err)
	return st
}

// status is Status, logging the errors it answers with Internal.
func (m *errorMapper) status(method string, err error) error {
	st, known := statusOf(err)
	if known {
		if status.Code(st) == codes.DataLoss {
			// Damaged storage is the operator's business as much as the
			// client's.
			m.log.Error("protoql server: corrupt data", "method", method, "err", err)
		}
		return st
	}
	id := m.nextID.Add(1)
	m.log.Error("protoql server: internal error", "method", method, "id", id, "err", err)
	return status.Errorf(codes.Internal, "internal error (logged by the server as id %d)", id)
}

// statusOf maps err and reports whether it is an error meant for the
// caller; Internal errors are not.
func statusOf(err error) (error, bool) {
	if err == nil {
		return nil, true
	}
	// Already a status: from gRPC itself, or authentication. Only err
	// itself: a status wrapped inside a store's error is the backend's own
	// (a TiKV connection failure, say) and is internal like the rest.
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err, true
	}
	var qe *query.Error
	var le *runtime.LimitError
	switch {
	case errors.As(err, &qe):
		return withDetail(codes.InvalidArgument, clipMessage(err.Error()), &protoqlv1.QueryError{
			Line: uint32(qe.Pos.Line), Column: uint32(qe.Pos.Column), Offset: uint32(qe.Pos.Offset), Message: clipMessage(qe.Msg),
		}), true
	case errors.As(err, &le):
		return withDetail(codes.ResourceExhausted, clipMessage(err.Error()), &protoqlv1.LimitExceeded{
			Limit: le.Limit, Max: uint64(le.Max), Cursor: le.Cursor,
		}), true
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled"), true
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "request deadline exceeded (the server's time limit or the client's deadline)"), true
	}
	if code, ok := knownCode(err); ok {
		return status.Error(code, clipMessage(err.Error())), true
	}
	return status.Error(codes.Internal, "internal error"), false
}

// knownCode maps the errors whose text is meant for the caller: a user's
// mistake, a missing row, a conflict, corrupt data (whose message names the
// key), a closed store.
func knownCode(err error) (codes.Code, bool) {
	for _, c := range []struct {
		sentinel error
		code     codes.Code
	}{
		{errBadRequest, codes.InvalidArgument},
		{errNoSchema, codes.FailedPrecondition},
		{kv.ErrInvalid, codes.InvalidArgument},
		{runtime.ErrInvalid, codes.InvalidArgument},
		{schema.ErrInvalid, codes.InvalidArgument},
		{tuple.ErrMalformed, codes.InvalidArgument},
		{runtime.ErrNotFound, codes.NotFound},
		{kv.ErrNotFound, codes.NotFound},
		{kv.ErrConflict, codes.Aborted},
		{kv.ErrExpired, codes.DeadlineExceeded},
		{runtime.ErrUniqueViolation, codes.AlreadyExists},
		{runtime.ErrIndexNotReadable, codes.FailedPrecondition},
		{runtime.ErrCorrupt, codes.DataLoss},
		{kv.ErrCorrupt, codes.DataLoss},
		{errMetadata, codes.PermissionDenied},
		{kv.ErrClosed, codes.Unavailable},
	} {
		if errors.Is(err, c.sentinel) {
			return c.code, true
		}
	}
	return codes.OK, false
}

// maxMessage bounds the text of a status: gRPC sends it in a header, and a
// message that echoes megabytes of a request back (a huge literal in a
// query) would break the client's connection instead of informing it.
const maxMessage = 4 << 10

// clipMessage cuts msg to maxMessage bytes, at a rune boundary.
func clipMessage(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	n := maxMessage
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return msg[:n] + fmt.Sprintf("… (%d more bytes)", len(msg)-n)
}

func withDetail(code codes.Code, msg string, detail protoadapt.MessageV2) error {
	st, err := status.New(code, msg).WithDetails(protoadapt.MessageV1Of(detail))
	if err != nil {
		return status.Error(code, msg)
	}
	return st.Err()
}

// recovered turns a handler's panic into an internal error, logging the
// stack on the server only.
func (m *errorMapper) recovered(method string, p any) error {
	id := m.nextID.Add(1)
	m.log.Error("protoql server: panic", "method", method, "id", id, "panic", p, "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "internal error (logged by the server as id %d)", id)
}

func (s *Server) unaryStatus(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.errs.recovered(info.FullMethod, p)
		}
	}()
	resp, err = h(ctx, req)
	return resp, s.errs.status(info.FullMethod, err)
}

func (s *Server) streamStatus(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.errs.recovered(info.FullMethod, p)
		}
	}()
	return s.errs.status(info.FullMethod, h(srv, ss))
}

// tap puts Limits.Timeout on the context of every stream as the transport
// creates it (grpc.InTapHandle), before any handler runs. Unlike a context
// derived in an interceptor, this one is the stream's own: a handler
// blocked receiving from, or sending to, a client that has gone quiet
// wakes up at the deadline too.
func (s *Server) tap(ctx context.Context, _ *tap.Info) (context.Context, error) {
	if s.opts.Limits.Timeout <= 0 {
		return ctx, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Limits.Timeout)
	// The transport cancels the parent when the stream ends; release the
	// timer then (or when it fires).
	context.AfterFunc(ctx, cancel)
	return ctx, nil
}
