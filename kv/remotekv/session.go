package remotekv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/protoql/protoql/kv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

type (
	request  = protoqlv1.TransactRequest
	response = protoqlv1.TransactResponse
	step     = protoqlv1.TransactRequest_Step
)

var (
	errTxnEnded = fmt.Errorf("remotekv: transaction ended: %w", kv.ErrClosed)
	// errIterClosed is the error of an iterator's positioning calls after
	// its Close.
	errIterClosed = fmt.Errorf("remotekv: iterator closed: %w", kv.ErrClosed)
	// errRestart is the server asking to run the transaction again.
	errRestart = errors.New("remotekv: the server restarts the transaction")
)

// flushBytes is how many bytes of buffered steps a session sends on their
// own, without waiting for the next read, to keep messages small.
const flushBytes = 1 << 20

// session is the client's side of one Transact stream (see
// TransactRequest): a transaction of Update or View, or the snapshot of a
// Store-level iterator. It belongs to one goroutine; only cancel may be
// called from another (Store.Close).
type session struct {
	st       *Store
	ctx      context.Context
	cancel   context.CancelFunc
	readOnly bool
	stream   grpc.BidiStreamingClient[request, response] // nil until the first message
	steps    []*step                                     // waiting for the next message
	size     int                                         // bytes in steps
	err      error                                       // the failure that ended the stream
	nextIter uint32
}

func (s *Store) newSession(ctx context.Context, readOnly bool) (*session, error) {
	ctx, cancel := context.WithCancel(ctx)
	sess := &session{st: s, ctx: ctx, cancel: cancel, readOnly: readOnly}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		cancel()
		return nil, errClosed
	}
	s.live[sess] = struct{}{}
	return sess, nil
}

// end releases the session; the server rolls back whatever was not
// committed.
func (s *session) end() {
	s.cancel()
	s.st.mu.Lock()
	delete(s.st.live, s)
	s.st.mu.Unlock()
}

// fail records the error that ends the session and returns it.
func (s *session) fail(err error) error {
	if s.st.closed.Load() {
		err = errClosed
	}
	if s.err == nil {
		s.err = err
	}
	s.cancel()
	return s.err
}

// call sends the buffered steps and req's action, and returns the answer.
func (s *session) call(req *request) (*response, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.st.closed.Load() {
		return nil, s.fail(errClosed)
	}
	if s.stream == nil {
		stream, err := s.st.client.Transact(s.ctx, s.st.callOpts...)
		if err != nil {
			return nil, s.fail(s.st.txnError(s.ctx, "transact", err))
		}
		s.stream = stream
		req.Begin = &protoqlv1.TransactRequest_Begin{ReadOnly: s.readOnly}
	}
	req.Steps, s.steps, s.size = s.steps, nil, 0
	if err := s.stream.Send(req); err != nil {
		if err == io.EOF { // the stream failed; Recv has the status
			_, err = s.stream.Recv()
		}
		return nil, s.fail(s.st.txnError(s.ctx, "transact", err))
	}
	resp, err := s.stream.Recv()
	if err == io.EOF {
		err = errors.New("remotekv: the server ended the transaction early")
	}
	if err != nil {
		return nil, s.fail(s.st.txnError(s.ctx, "transact", err))
	}
	return resp, nil
}

// protocolError fails the session on an answer of the wrong kind.
func (s *session) protocolError(want string, resp *response) error {
	return s.fail(fmt.Errorf("%w: want %s, got %T", ErrProtocol, want, resp.GetResult()))
}

// addStep buffers a step, sending the buffer when it grows large.
func (s *session) addStep(st *step, size int) error {
	if s.err != nil {
		return s.err
	}
	s.steps = append(s.steps, st)
	s.size += size
	if s.size < flushBytes {
		return nil
	}
	resp, err := s.call(&request{})
	if err != nil {
		return err
	}
	if !resp.GetReady() {
		return s.protocolError("ready", resp)
	}
	return nil
}

// commit ends the attempt: it commits an Update's writes. errRestart means
// the server wants the transaction run again.
func (s *session) commit() error {
	if s.err != nil {
		return s.err
	}
	if s.stream == nil && len(s.steps) == 0 {
		return nil // fn neither read nor wrote
	}
	resp, err := s.call(&request{Action: &protoqlv1.TransactRequest_Commit{Commit: true}})
	switch {
	case err != nil:
		return err
	case resp.GetDone():
		return nil
	case resp.GetRestart():
		return errRestart
	}
	return s.protocolError("done or restart", resp)
}

// endRead ends the read-only session of a Store-level iterator and
// returns the server's answer when it is an error: the Close error of the
// server's iterator, which the server reports in its answer to commit.
// A session that never reached the server has nothing to end, and one
// whose context has ended does not wait for an answer: its caller gave up
// the read, and the server logs the Close error of a stream that ends
// without a commit.
func (s *session) endRead() error {
	if s.stream == nil || s.ctx.Err() != nil {
		return nil
	}
	if err := s.commit(); err != nil {
		if errors.Is(err, errRestart) {
			return s.fail(errors.New("remotekv: protocol error: restart of a read-only transaction"))
		}
		return err
	}
	return nil
}

// rollback ends an Update whose fn failed, waiting for the server to let go
// of the transaction so the caller's next write does not queue behind it.
func (s *session) rollback() {
	s.steps, s.size = nil, 0
	if s.stream == nil || s.err != nil {
		return
	}
	_, _ = s.call(&request{Action: &protoqlv1.TransactRequest_Rollback{Rollback: true}})
}

// attempt is one run of a transaction's function; its Txn and iterators
// fail with kv.ErrClosed once it ends.
type attempt struct {
	s     *session
	ended atomic.Bool // atomic so that misuse from another goroutine is not a race
}

func (s *session) newAttempt() *attempt { return &attempt{s: s} }

func (a *attempt) finish() { a.ended.Store(true) }

func (a *attempt) runUpdate(fn func(kv.Txn) error) error {
	defer a.finish() // also when fn panics
	return fn(&txn{a: a})
}

// check refuses calls after the attempt or the store ended, or under an
// ended ctx (nil for calls without one).
func (a *attempt) check(op string, ctx context.Context) error {
	if a.ended.Load() {
		return errTxnEnded
	}
	if a.s.st.closed.Load() {
		return errClosed
	}
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("remotekv: %s: %w", op, err)
		}
	}
	return nil
}

// txn is the kv.Txn of Update and the kv.Reader of View.
type txn struct{ a *attempt }

var _ kv.Txn = (*txn)(nil)

func (t *txn) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := t.a.check("get", ctx); err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("remotekv: get: %w: empty key", kv.ErrInvalid)
	}
	resp, err := t.a.s.call(&request{Action: &protoqlv1.TransactRequest_Get{Get: key}})
	if err != nil {
		return nil, err
	}
	g := resp.GetGet()
	if g == nil {
		return nil, t.a.s.protocolError("get", resp)
	}
	if !g.GetFound() {
		return nil, kv.NotFound("remotekv: get", key)
	}
	return valueOf(g.GetValue()), nil
}

func (t *txn) NewIter(ctx context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if err := t.a.check("new iter", ctx); err != nil {
		return nil, err
	}
	if err := checkBounds(opts); err != nil {
		return nil, err
	}
	return t.a.newIter(opts, false), nil
}

func (t *txn) Set(key, value []byte) error {
	if err := t.write("set", key); err != nil {
		return err
	}
	op := &protoqlv1.Operation{Kind: protoqlv1.Operation_KIND_SET, Key: bytes.Clone(key), Value: bytes.Clone(value)}
	return t.a.s.addStep(writeStep(op), len(key)+len(value))
}

func (t *txn) Delete(key []byte) error {
	if err := t.write("delete", key); err != nil {
		return err
	}
	op := &protoqlv1.Operation{Kind: protoqlv1.Operation_KIND_DELETE, Key: bytes.Clone(key)}
	return t.a.s.addStep(writeStep(op), len(key))
}

func (t *txn) DeleteRange(start, end []byte) error {
	if err := t.a.check("delete range", nil); err != nil {
		return err
	}
	if err := kv.CheckRange(start, end); err != nil {
		return fmt.Errorf("remotekv: delete range: %w", err)
	}
	if t.a.s.readOnly {
		return fmt.Errorf("remotekv: delete range: %w: write in a read-only transaction", kv.ErrInvalid)
	}
	op := &protoqlv1.Operation{Kind: protoqlv1.Operation_KIND_DELETE_RANGE, Key: bytes.Clone(start), End: bytes.Clone(end)}
	return t.a.s.addStep(writeStep(op), len(start)+len(end))
}

// write checks a Set or Delete.
func (t *txn) write(op string, key []byte) error {
	if err := t.a.check(op, nil); err != nil {
		return err
	}
	if len(key) == 0 {
		return fmt.Errorf("remotekv: %s: %w: empty key", op, kv.ErrInvalid)
	}
	if t.a.s.readOnly {
		return fmt.Errorf("remotekv: %s: %w: write in a read-only transaction", op, kv.ErrInvalid)
	}
	return nil
}

func writeStep(op *protoqlv1.Operation) *step {
	return &step{Step: &protoqlv1.TransactRequest_Step_Write{Write: op}}
}
