package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/protoql/protoql/kv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

type transactStream = grpc.BidiStreamingServer[protoqlv1.TransactRequest, protoqlv1.TransactResponse]

// maxIters bounds the iterators a transaction may hold open at once, and
// so the server memory one client can pin.
const maxIters = 1024

// errRollback ends a transaction the client rolled back.
var errRollback = errors.New("server: rolled back by the client")

// Transact runs one kv transaction for a client, following the protocol of
// TransactRequest: the store's Update (or View) runs here, and its function
// serves the client's reads and writes until the client commits. When the
// store calls the function again to retry a conflict, the client is told
// to restart and the new attempt is served on the same stream: a conflict
// always reaches the client, whose Update runs its function again, and the
// server never replays a client's requests on its own.
//
// The transaction is bounded in time twice over: it ends when the client
// leaves it idle for Limits.TxnIdle, and when it has run Limits.TxnLifetime
// in all, with an error wrapping kv.ErrExpired (DeadlineExceeded). The
// stores hold no lock across a transaction, so a stalled client delays no
// other writer in the meantime; the limits bound what it pins (a snapshot,
// the conflict log, a stream).
//
// An iterator's Close error is the transaction's: a close step whose
// Close fails (or an open step reusing the id of an open iterator, which
// closes it first) fails the transaction with that error, reported by the
// answer to its message as any failing step's. The iterators still open
// at commit are closed before the commit is answered, and a Close error
// fails the commit: a read-only transaction answers the error, not done,
// and a read-write one writes nothing (Update rolls back). An iterator
// that could not be released may have read wrong, and the writes may
// depend on what it read, so not committing is the safe answer; the
// client's Update returns the error and may run again. The iterators
// left open when the transaction ends otherwise (rollback, an error, the
// end of the stream) have nothing left to report to: their Close errors
// are logged. Every iterator is closed inside the store's Update or View,
// while its transaction is live.
func (k *kvService) Transact(stream transactStream) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	lim := k.s.opts.Limits
	if lim.TxnLifetime > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, lim.TxnLifetime,
			fmt.Errorf("server: transaction ran longer than the server's limit of %v: %w", lim.TxnLifetime, kv.ErrExpired))
		defer stop()
	}
	sess := &session{k: k, stream: stream, ctx: ctx, idle: lim.TxnIdle, msgs: make(chan recvResult), iters: map[uint32]*sessionIter{}}
	go sess.receive()
	first, err := sess.recvAny()
	if err == errRollback {
		return nil // the client closed the stream without a word
	}
	if err != nil {
		return err
	}
	if first.GetBegin() == nil {
		return badRequest("the first message of a transaction must carry begin")
	}
	sess.next = first
	if first.GetBegin().GetReadOnly() {
		err = k.s.store.View(ctx, func(r kv.Reader) error { return sess.run(r, nil) })
	} else {
		err = k.s.store.Update(ctx, func(tx kv.Txn) error { return sess.run(tx, tx) })
	}
	if err != nil && !errors.Is(err, errRollback) {
		if errors.Is(err, kv.ErrExpired) {
			k.s.opts.Logger.Info("protoql server: transaction ended by a time limit", "error", err)
		}
		return err
	}
	return stream.Send(&protoqlv1.TransactResponse{Result: &protoqlv1.TransactResponse_Done{Done: true}})
}

// recvResult is one message (or the error) received from the client.
type recvResult struct {
	req *protoqlv1.TransactRequest
	err error
}

// session is the server's side of one Transact stream. It belongs to the
// stream's handler goroutine.
type session struct {
	k       *kvService
	stream  transactStream
	ctx     context.Context            // the stream's, with the lifetime limit
	idle    time.Duration              // the idle limit; 0: none
	msgs    chan recvResult            // from receive
	next    *protoqlv1.TransactRequest // a message received but not served yet
	attempt int
	iters   map[uint32]*sessionIter
}

// sessionIter is an iterator of the transaction and whether it is
// positioned (Next needs a position).
type sessionIter struct {
	it         kv.Iterator
	positioned bool
}

// run is the function given to Update (w set) or View: it serves messages
// until commit or rollback, and closes the attempt's iterators before it
// returns, while their transaction is live: at commit a Close error fails
// the commit; otherwise (rollback, an error) the Close errors are logged.
func (s *session) run(r kv.Reader, w kv.Txn) (err error) {
	defer func() { // also when serve panics
		switch cerr := s.closeAll(); {
		case cerr == nil:
		case err == nil:
			err = cerr // the commit's answer
		default:
			s.k.s.opts.Logger.Error("protoql server: transaction iterators failed to close", "ending", err, "err", cerr)
		}
	}()
	return s.serve(r, w)
}

// serve serves messages until commit (nil) or rollback (errRollback) or
// an error ends the attempt.
func (s *session) serve(r kv.Reader, w kv.Txn) error {
	s.attempt++
	if s.attempt > 1 {
		if err := s.send(&protoqlv1.TransactResponse{Result: &protoqlv1.TransactResponse_Restart{Restart: true}}); err != nil {
			return err
		}
	}
	for {
		req, err := s.recv()
		if err != nil {
			return err
		}
		for _, st := range req.GetSteps() {
			if err := s.step(r, w, st); err != nil {
				return err
			}
		}
		resp, err := s.act(r, req)
		if err != nil {
			return err
		}
		if resp == nil {
			return nil // commit: run closes the iterators first
		}
		if err := s.send(resp); err != nil {
			return err
		}
	}
}

// receive reads the client's messages into s.msgs until the stream ends
// (the handler's return cancels it) or a receive fails. It runs on its own
// goroutine, so that waiting for the client can be bounded.
func (s *session) receive() {
	for {
		req, err := s.stream.Recv()
		select {
		case s.msgs <- recvResult{req, err}:
		case <-s.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// recvAny waits for the client's next message, at most the idle limit and
// within the transaction's lifetime. The end of the stream is errRollback.
func (s *session) recvAny() (*protoqlv1.TransactRequest, error) {
	var idle <-chan time.Time
	if s.idle > 0 {
		t := time.NewTimer(s.idle)
		defer t.Stop()
		idle = t.C
	}
	select {
	case r := <-s.msgs:
		if r.err == io.EOF {
			return nil, errRollback
		}
		return r.req, r.err
	case <-idle:
		return nil, fmt.Errorf("server: transaction idle for longer than the server's limit of %v: %w", s.idle, kv.ErrExpired)
	case <-s.ctx.Done():
		if cause := context.Cause(s.ctx); errors.Is(cause, kv.ErrExpired) {
			return nil, cause
		}
		return nil, s.ctx.Err()
	}
}

func (s *session) recv() (*protoqlv1.TransactRequest, error) {
	if req := s.next; req != nil {
		s.next = nil
		return req, nil
	}
	req, err := s.recvAny()
	if err != nil {
		return nil, err // errRollback: the client closed the stream without committing
	}
	if req.GetBegin() != nil {
		return nil, badRequest("begin on a transaction already begun")
	}
	return req, nil
}

func (s *session) send(resp *protoqlv1.TransactResponse) error { return s.stream.Send(resp) }

// step executes a step that needs no answer.
func (s *session) step(r kv.Reader, w kv.Txn, st *protoqlv1.TransactRequest_Step) error {
	switch x := st.GetStep().(type) {
	case *protoqlv1.TransactRequest_Step_Write:
		if w == nil {
			return badRequest("write in a read-only transaction")
		}
		op, err := opFromProto(x.Write)
		if err != nil {
			return err
		}
		return addOp(w, op)
	case *protoqlv1.TransactRequest_Step_Open:
		id := x.Open.GetIterator()
		if err := s.closeIter(id); err != nil {
			return err
		}
		if len(s.iters) >= maxIters {
			return badRequest("more than %d iterators open in one transaction", maxIters)
		}
		it, err := r.NewIter(s.ctx, iterOptions(x.Open.GetOptions()))
		if err != nil {
			return err
		}
		s.iters[id] = &sessionIter{it: it}
		return nil
	case *protoqlv1.TransactRequest_Step_Close:
		return s.closeIter(x.Close)
	}
	return badRequest("empty step")
}

// act executes a message's action and returns its answer; nil ends the
// transaction (commit: nil error; rollback: errRollback).
func (s *session) act(r kv.Reader, req *protoqlv1.TransactRequest) (*protoqlv1.TransactResponse, error) {
	switch a := req.GetAction().(type) {
	case nil:
		return &protoqlv1.TransactResponse{Result: &protoqlv1.TransactResponse_Ready{Ready: true}}, nil
	case *protoqlv1.TransactRequest_Get:
		if err := refuseMetaKey(a.Get); err != nil {
			return nil, err
		}
		v, err := r.Get(s.ctx, a.Get)
		if errors.Is(err, kv.ErrNotFound) {
			return getResult(false, nil), nil
		}
		if err != nil {
			return nil, err
		}
		return getResult(true, v), nil
	case *protoqlv1.TransactRequest_Seek_:
		return s.seek(a.Seek)
	case *protoqlv1.TransactRequest_Next_:
		si, err := s.iter(a.Next.GetIterator())
		if err != nil {
			return nil, err
		}
		if !si.positioned {
			return nil, badRequest("next on iterator %d before a seek", a.Next.GetIterator())
		}
		return s.page(si, si.it.Next(), a.Next.GetPage())
	case *protoqlv1.TransactRequest_Commit:
		return nil, nil
	case *protoqlv1.TransactRequest_Rollback:
		return nil, errRollback
	}
	return nil, badRequest("unknown action")
}

func getResult(found bool, v []byte) *protoqlv1.TransactResponse {
	return &protoqlv1.TransactResponse{Result: &protoqlv1.TransactResponse_Get{Get: &protoqlv1.TransactResponse_GetResult{Found: found, Value: v}}}
}

func (s *session) seek(sk *protoqlv1.TransactRequest_Seek) (*protoqlv1.TransactResponse, error) {
	si, err := s.iter(sk.GetIterator())
	if err != nil {
		return nil, err
	}
	var ok bool
	switch sk.GetKind() {
	case protoqlv1.TransactRequest_Seek_KIND_FIRST:
		ok = si.it.First()
	case protoqlv1.TransactRequest_Seek_KIND_GE:
		ok = si.it.SeekGE(sk.GetKey())
	case protoqlv1.TransactRequest_Seek_KIND_LT:
		ok = si.it.SeekLT(sk.GetKey())
	default:
		return nil, badRequest("seek kind %v", sk.GetKind())
	}
	si.positioned = true
	return s.page(si, ok, sk.GetPage())
}

// page reads up to n pairs (capped by the server) from the iterator's
// current position, leaving it at the last pair returned.
func (s *session) page(si *sessionIter, ok bool, n uint32) (*protoqlv1.TransactResponse, error) {
	limit := int(min(max(n, 1), maxPagePairs))
	p := &protoqlv1.TransactResponse_Page{}
	size := 0
	for ok {
		kvp := &protoqlv1.KeyValue{Key: bytes.Clone(si.it.Key()), Value: bytes.Clone(si.it.Value())}
		p.Pairs = append(p.Pairs, kvp)
		size += len(kvp.Key) + len(kvp.Value) + pairOverhead
		if len(p.Pairs) >= limit || size >= s.k.pageBytes() {
			break
		}
		ok = si.it.Next()
	}
	if err := si.it.Error(); err != nil {
		return nil, err
	}
	p.Exhausted = !ok
	return &protoqlv1.TransactResponse{Result: &protoqlv1.TransactResponse_Page_{Page: p}}, nil
}

func (s *session) iter(id uint32) (*sessionIter, error) {
	si := s.iters[id]
	if si == nil {
		return nil, badRequest("iterator %d is not open", id)
	}
	return si, nil
}

// closeIter closes iterator id, if open, and returns its Close error.
func (s *session) closeIter(id uint32) error {
	si := s.iters[id]
	if si == nil {
		return nil
	}
	delete(s.iters, id)
	if err := si.it.Close(); err != nil {
		return fmt.Errorf("server: closing iterator %d: %w", id, err)
	}
	return nil
}

// closeAll closes every open iterator and returns their Close errors.
func (s *session) closeAll() error {
	var errs []error
	for id := range s.iters {
		if err := s.closeIter(id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
