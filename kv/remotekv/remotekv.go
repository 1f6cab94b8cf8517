// Package remotekv is a kv.Store that talks to the KVService of a protoql
// server (`protoql serve`, package server) over gRPC, so that a program can
// run protoql's runtime on a store held by another process.
//
// # What the server serves
//
// A server serves the KVService only when started with it (server.WithKV,
// `protoql serve --kv`), usually with a token of its own, given here with
// WithToken. It never serves protoql's metadata keys, those whose first
// byte is 0x00 (the schema and cursor secret of the database its
// ProtoQLService runs on): a Get or write of one fails with PermissionDenied,
// and scans skip them. So run protoql's runtime over a remote store in a
// namespace of its own (runtime.WithNamespace), whose metadata lives under
// the namespace's prefix. A DataLoss status (corrupt data on the server's
// disk) is returned as an error wrapping kv.ErrCorrupt.
//
// # Reads and writes
//
// Get and Apply are one RPC each; a batch is applied atomically by the
// server's store. A Store-level iterator, like Pebble's, reads one
// snapshot: it is a read-only transaction on the server (below) holding one
// iterator, opened on its first positioning call and ended by Close, which
// waits for the server's answer (a round trip) to return the server's
// iterator's Close error.
//
// # Transactions
//
// Update and View are real transactions on the server's store, with that
// store's isolation, not emulations: each runs over one Transact stream,
// during which the server is inside its store's Update (or View), serving
// the client's reads and writes. So a read-modify-write in Update never
// loses a concurrent update, View reads one snapshot, and kvtest passes in
// full (under a key prefix: the metadata keys are the server's). The costs of doing it remotely:
//
//   - Every Get and every iterator page is a round trip. Writes (Set,
//     Delete, DeleteRange) and iterator opens and closes are buffered and
//     sent with the next read or the commit, so a write-only Update costs
//     one round trip in all. An error from a buffered write (rare: the
//     client checks keys and ranges itself) surfaces at the next read or at
//     commit, failing the transaction; so does the Close error of the
//     server's iterator (View, which sends no commit, leaves the error of
//     a close after its last read to the server's log).
//   - The server's stores hold no lock while a transaction runs (kv's
//     contract), so a slow or stalled client delays no other writer. The
//     server bounds each transaction's idle time between messages and its
//     whole lifetime (server.Limits.TxnIdle and TxnLifetime, 5 s and 30 s
//     by default); past either, the transaction is rolled back and its
//     calls fail with an error wrapping kv.ErrExpired. (A Store-level
//     iterator is such a transaction too: one left unread past the idle
//     limit fails the same way.)
//   - When the server's store finds a conflict at commit, the server
//     answers the commit with "restart" and Update runs fn again on the
//     same stream, as the kv contract allows; when the store's retries run
//     out, Update fails with kv.ErrConflict.
//   - The ctx given to a Txn's Get or NewIter is checked before the call;
//     the transaction's stream runs under the ctx given to Update or View.
//
// # Iterator pages
//
// An iterator fetches pairs in pages: a small first page after each
// positioning call (a seek often needs one or two pairs), doubling on each
// Next that runs past a page, up to 1024 pairs or about 1 MiB.
//
// # Errors
//
// Server statuses map back to kv's sentinels in one place (status.go):
// InvalidArgument to kv.ErrInvalid, Aborted to kv.ErrConflict, Canceled
// and DeadlineExceeded to the context errors; calls after Close, and calls
// cut short by Close, fail with kv.ErrClosed. The errors keep their gRPC
// status (status.FromError works on them).
//
// The client does not take the server's word for an iterator's pairs:
// every page is checked before any of its pairs is handed out — each key
// not empty, inside the iterator's bounds, and past the key before it in
// the iterator's direction (the first one past the previous page's last,
// at or after a SeekGE's key, before a SeekLT's) — because protoql's
// runtime relies on every store keeping an iterator inside its bounds and
// in order. A page that breaks this, like an answer of the wrong kind,
// fails the iterator and its transaction with an error wrapping
// ErrProtocol that names the key and what was expected.
//
// # Optional interfaces
//
// The client offers none of kv's optional write interfaces (kv.KeyUpdater,
// kv.KeySetter, kv.KeyMerger): a call through the network costs a round
// trip whatever its form, and a field patch (kv.KeyMerger) would need the
// server's store to merge. protoql's runtime falls back to the general
// calls: its inline setters read-modify-write in a transaction. Its
// iterators offer kv.PairNexter (a move and its pair in one call, from the
// page in hand).
//
// # Limits
//
// A value, a batch and a transaction's buffered writes must fit the
// server's message size limit (16 MiB by default; raise both sides with
// the server's WithMaxMessageSize and WithMaxMessageSize here). Every
// transaction and iterator must finish within the server's time limit.
//
// # Buffer ownership and concurrency
//
// As kv specifies: keys and values given to the store are copied; values
// from Get belong to the caller; an iterator's Key and Value are valid
// until its next positioning call. A Store is safe for concurrent use;
// Txns, Readers and Iterators belong to one goroutine.
package remotekv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protoql/protoql/kv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// Options configures a Store. Use the WithX functions.
type Options struct {
	// Token, when set, is sent as "authorization: Bearer <token>" on every
	// call.
	Token string
	// TLS, when set, dials with TLS; otherwise Dial uses plaintext.
	TLS *tls.Config
	// MaxMessageSize bounds the messages sent and received, in bytes
	// (default 16 MiB, the server's default).
	MaxMessageSize int
	// DialOptions are added to Dial's.
	DialOptions []grpc.DialOption
}

// Option sets a field of Options.
type Option func(*Options)

// WithToken sends the bearer token on every call.
func WithToken(token string) Option { return func(o *Options) { o.Token = token } }

// WithTLS dials with TLS.
func WithTLS(cfg *tls.Config) Option { return func(o *Options) { o.TLS = cfg } }

// WithMaxMessageSize bounds messages both ways.
func WithMaxMessageSize(n int) Option { return func(o *Options) { o.MaxMessageSize = n } }

// WithDialOptions adds gRPC dial options, such as a custom dialer.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *Options) { o.DialOptions = append(o.DialOptions, opts...) }
}

const defaultMaxMessageSize = 16 << 20

var errClosed = fmt.Errorf("remotekv: %w", kv.ErrClosed)

// ErrProtocol is wrapped by the errors of answers that break the KVService
// protocol: an answer of the wrong kind, or an iterator page whose keys
// are empty, outside the iterator's bounds, or out of its order (see the
// package doc's Errors). The call's session ends with it: an Update fails
// without committing.
var ErrProtocol = errors.New("remotekv: protocol error")

// Store is a kv.Store over a protoql server's KVService. It is safe for
// concurrent use.
type Store struct {
	client   protoqlv1.KVServiceClient
	conn     *grpc.ClientConn // owned; nil when given by the caller
	callOpts []grpc.CallOption
	closed   atomic.Bool

	mu   sync.Mutex
	live map[*session]struct{} // running sessions, cancelled by Close
}

var _ kv.Store = (*Store)(nil)

// Dial returns a Store talking to the server at target (such as
// "127.0.0.1:7420"). It does not connect until the first call. Close
// closes the connection.
func Dial(target string, opts ...Option) (*Store, error) {
	o := options(opts)
	conn, err := grpc.NewClient(target, DialOptions(o)...)
	if err != nil {
		return nil, fmt.Errorf("remotekv: dial %s: %w", target, err)
	}
	s := New(conn, opts...)
	s.conn = conn
	return s, nil
}

// DialOptions returns the gRPC dial options that Dial uses for o: transport
// credentials, the bearer token and message sizes. Programs that share one
// connection between a Store and other clients of the server dial with
// them and call New.
func DialOptions(o Options) []grpc.DialOption {
	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if o.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(BearerToken(o.Token)))
	}
	return append(opts, o.DialOptions...)
}

func options(opts []Option) Options {
	o := Options{MaxMessageSize: defaultMaxMessageSize}
	for _, opt := range opts {
		opt(&o)
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = defaultMaxMessageSize
	}
	return o
}

// New returns a Store over an existing connection, which it does not own:
// Close leaves it open. Of opts, only WithMaxMessageSize applies; the
// others are dial options (see DialOptions).
func New(conn grpc.ClientConnInterface, opts ...Option) *Store {
	o := options(opts)
	return &Store{
		client:   protoqlv1.NewKVServiceClient(conn),
		callOpts: []grpc.CallOption{grpc.MaxCallRecvMsgSize(o.MaxMessageSize), grpc.MaxCallSendMsgSize(o.MaxMessageSize)},
		live:     map[*session]struct{}{},
	}
}

// check refuses a call on a closed store or under an ended context.
func (s *Store) check(op string, ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remotekv: %s: %w", op, err)
	}
	return nil
}

// Get returns a copy of the latest committed value of key.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := s.check("get", ctx); err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("remotekv: get: %w: empty key", kv.ErrInvalid)
	}
	resp, err := s.client.Get(ctx, &protoqlv1.GetRequest{Key: key}, s.callOpts...)
	if err != nil {
		return nil, s.rpcError("get", err)
	}
	if !resp.GetFound() {
		return nil, kv.NotFound("remotekv: get", key)
	}
	return valueOf(resp.GetValue()), nil
}

// valueOf keeps an empty value non-nil, as the local engines return it.
func valueOf(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// Apply sends b to the server, which commits it atomically.
func (s *Store) Apply(ctx context.Context, b *kv.Batch) error {
	if err := s.check("apply", ctx); err != nil {
		return err
	}
	if b == nil || b.Len() == 0 {
		return nil
	}
	req := &protoqlv1.ApplyRequest{Operations: make([]*protoqlv1.Operation, 0, b.Len())}
	for _, op := range b.Ops() {
		// The batch's bytes stay valid during the call; the request is
		// marshalled before Apply returns, so no copy is needed.
		req.Operations = append(req.Operations, opToProto(op))
	}
	if _, err := s.client.Apply(ctx, req, s.callOpts...); err != nil {
		return s.rpcError("apply", err)
	}
	return nil
}

func opToProto(op kv.Op) *protoqlv1.Operation {
	switch op.Kind {
	case kv.OpSet:
		return &protoqlv1.Operation{Kind: protoqlv1.Operation_KIND_SET, Key: op.Key, Value: op.Value}
	case kv.OpDelete:
		return &protoqlv1.Operation{Kind: protoqlv1.Operation_KIND_DELETE, Key: op.Key}
	default:
		return &protoqlv1.Operation{Kind: protoqlv1.Operation_KIND_DELETE_RANGE, Key: op.Key, End: op.Value}
	}
}

// NewIter returns an iterator over one snapshot of the store, taken at its
// first positioning call.
func (s *Store) NewIter(ctx context.Context, opts kv.IterOptions) (kv.Iterator, error) {
	if err := s.check("new iter", ctx); err != nil {
		return nil, err
	}
	if err := checkBounds(opts); err != nil {
		return nil, err
	}
	sess, err := s.newSession(ctx, true)
	if err != nil {
		return nil, err
	}
	a := sess.newAttempt()
	return a.newIter(opts, true), nil
}

func checkBounds(o kv.IterOptions) error {
	if len(o.LowerBound) > 0 && len(o.UpperBound) > 0 {
		if err := kv.CheckRange(o.LowerBound, o.UpperBound); err != nil {
			return fmt.Errorf("remotekv: new iter: %w", err)
		}
	}
	return nil
}

// Update runs fn in a read-write transaction on the server (see the
// package doc). fn's error is returned unchanged; a panic in fn rolls the
// transaction back and reaches the caller.
func (s *Store) Update(ctx context.Context, fn func(kv.Txn) error) error {
	if err := s.check("update", ctx); err != nil {
		return err
	}
	sess, err := s.newSession(ctx, false)
	if err != nil {
		return err
	}
	defer sess.end()
	for {
		a := sess.newAttempt()
		err := a.runUpdate(fn)
		if err != nil {
			sess.rollback()
			return err
		}
		err = sess.commit()
		if !errors.Is(err, errRestart) {
			return err
		}
	}
}

// View runs fn on one snapshot of the server's store, taken at fn's first
// read.
func (s *Store) View(ctx context.Context, fn func(kv.Reader) error) error {
	if err := s.check("view", ctx); err != nil {
		return err
	}
	sess, err := s.newSession(ctx, true)
	if err != nil {
		return err
	}
	defer sess.end()
	a := sess.newAttempt()
	defer a.finish()
	return fn(&txn{a: a})
}

// Close refuses new calls and ends every running transaction and iterator;
// their later calls fail with kv.ErrClosed. It closes the connection when
// Dial made it.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return errClosed
	}
	s.mu.Lock()
	live := s.live
	s.live = nil
	s.mu.Unlock()
	for sess := range live {
		sess.cancel()
	}
	if s.conn != nil {
		if err := s.conn.Close(); err != nil {
			return fmt.Errorf("remotekv: close: %w", err)
		}
	}
	return nil
}
