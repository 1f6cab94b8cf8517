package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
)

// DefaultAddr is where `protoql serve` listens unless told otherwise:
// loopback only.
const DefaultAddr = "127.0.0.1:7420"

// Limits bound each request. Zero means unlimited, but for the query text
// limits.
type Limits struct {
	// Timeout is the longest any RPC may run, streams and transactions
	// included; a client deadline that is shorter wins.
	Timeout time.Duration
	// Limits bound every query: its text and nesting when it is compiled
	// (Query, Explain, Delete by key), which cannot be lifted (zero means
	// query.DefaultLimits), and what one Query reads (MaxRows, MaxKeys,
	// MaxBytes), which a request may lower. MaxKeys and MaxBytes also cap
	// the pairs and bytes one KV Scan returns.
	query.Limits
	// TxnIdle is the longest a KV transaction (a Transact stream) may wait
	// for its client's next message; then the server ends it with
	// DeadlineExceeded (kv.ErrExpired in kv/remotekv) and rolls it back.
	TxnIdle time.Duration
	// TxnLifetime is the longest a KV transaction may run in all, however
	// busy its client keeps it; then it ends as for TxnIdle.
	TxnLifetime time.Duration
}

// DefaultLimits are the limits of a server built without WithLimits.
var DefaultLimits = Limits{
	Timeout: time.Minute,
	Limits: query.Limits{
		MaxTextBytes: query.DefaultLimits.MaxTextBytes,
		MaxDepth:     query.DefaultLimits.MaxDepth,
		MaxRows:      10_000,
		MaxKeys:      1_000_000,
		MaxBytes:     256 << 20,
	},
	TxnIdle:     5 * time.Second,
	TxnLifetime: 30 * time.Second,
}

// DefaultMaxMessageSize bounds every message unless WithMaxMessageSize says
// otherwise.
const DefaultMaxMessageSize = 16 << 20

// DefaultKeepalive is how the server finds connections whose client has
// gone without closing them (a crashed machine, a dropped network): after
// Time without activity it pings the client, and closes the connection,
// cancelling its calls, when no answer comes within Timeout.
var DefaultKeepalive = keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}

// keepaliveEnforcement refuses clients that ping more often than every
// 10 seconds (a flood of pings costs the server), while letting idle
// clients keep their connections alive.
var keepaliveEnforcement = keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}

// DefaultGracePeriod is how long Serve waits for running calls at shutdown
// before cancelling them.
const DefaultGracePeriod = 10 * time.Second

// Options configures a Server. Use the WithX functions.
type Options struct {
	// Token, when non-empty, is required on every RPC of the
	// ProtoQLService, and of the KVService unless KVToken is set.
	Token string
	// KV serves the KVService, which gives its clients every key of the
	// store but the metadata. Off by default.
	KV bool
	// KVToken, when non-empty, is required on every RPC of the KVService,
	// instead of Token (which then does not admit KVService calls).
	KVToken string
	// Insecure lets Serve listen on a non-loopback TCP address without
	// both a token and TLS.
	Insecure bool
	// Keepalive says how the server detects dead clients.
	Keepalive keepalive.ServerParameters
	// TLS, when set, serves TLS with this configuration.
	TLS *tls.Config
	// Limits bound each request.
	Limits Limits
	// MaxMessageSize bounds every message received and sent, in bytes.
	MaxMessageSize int
	// GracePeriod is how long shutdown waits for running calls.
	GracePeriod time.Duration
	// Logger receives internal errors (with the id the client sees) and
	// recovered panics.
	Logger *slog.Logger

	// Observability and embedding (observe.go, register.go).

	// AccessLog, when set, gets one line per call.
	AccessLog *slog.Logger
	// TracerProvider and MeterProvider receive the server's and the
	// runtime's spans and metrics; nil means otel's global providers.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// ServerOptions, UnaryInterceptors and StreamInterceptors configure the
	// grpc.Server that Serve runs; interceptors run outside protoql's own
	// stages.
	ServerOptions      []grpc.ServerOption
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor

	// BuildIndexes makes Serve build, in the background, the indexes that
	// are not readable yet (added to a database that held data, see
	// runtime.DB.BuildIndexes). On by default; WithBuildIndexes(false)
	// turns it off.
	BuildIndexes bool
}

// Option sets a field of Options.
type Option func(*Options)

// WithToken requires "authorization: Bearer <token>" on every RPC. An empty
// token requires nothing.
func WithToken(token string) Option { return func(o *Options) { o.Token = token } }

// WithKV serves the KVService (raw keys, for kv/remotekv), which a server
// does not serve otherwise. token, when non-empty, is the KVService's own:
// its calls must carry it, and the ProtoQLService's token does not admit
// them; when empty, KVService calls are admitted like ProtoQLService calls.
// Serve the KVService with its own token: it reads and writes every key.
func WithKV(token string) Option {
	return func(o *Options) { o.KV, o.KVToken = true, token }
}

// WithInsecure lets Serve listen on a non-loopback address without a token
// or without TLS. Without it, Serve refuses to.
func WithInsecure() Option { return func(o *Options) { o.Insecure = true } }

// WithKeepalive replaces DefaultKeepalive.
func WithKeepalive(p keepalive.ServerParameters) Option {
	return func(o *Options) { o.Keepalive = p }
}

// WithTLS serves TLS with cfg.
func WithTLS(cfg *tls.Config) Option { return func(o *Options) { o.TLS = cfg } }

// WithLimits replaces DefaultLimits.
func WithLimits(l Limits) Option { return func(o *Options) { o.Limits = l } }

// WithMaxMessageSize bounds every message, in bytes.
func WithMaxMessageSize(n int) Option { return func(o *Options) { o.MaxMessageSize = n } }

// WithGracePeriod sets how long shutdown waits for running calls.
func WithGracePeriod(d time.Duration) Option { return func(o *Options) { o.GracePeriod = d } }

// WithLogger sets where internal errors are logged (default slog.Default).
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// Server serves the ProtoQLService and, WithKV, the KVService over one
// store. It is safe for concurrent use. It does not own the store.
type Server struct {
	store   kv.Store
	opts    Options
	token   *[sha256.Size]byte // digest of Options.Token; nil without one
	kvToken *[sha256.Size]byte // digest of Options.KVToken; nil without one
	dbs     dbCache
	errs    errorMapper
	grpc    *grpc.Server
	protos  protoqlService
	kvs     kvService
	health  *health.Server
	// stopBuild cancels Serve's background index build: set by Serve,
	// called by Shutdown, so that a direct Shutdown stops the build at
	// once rather than when Serve returns, after the grace period.
	stopBuild atomic.Pointer[context.CancelFunc]
}

// New returns a server for store.
func New(store kv.Store, opts ...Option) *Server {
	o := Options{Limits: DefaultLimits, MaxMessageSize: DefaultMaxMessageSize, GracePeriod: DefaultGracePeriod, Keepalive: DefaultKeepalive,
		BuildIndexes: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	s := &Server{store: store, opts: o, errs: errorMapper{log: o.Logger}}
	s.token, s.kvToken = digest(o.Token), digest(o.KVToken)
	s.dbs.store = store
	s.dbs.opened = make(chan struct{})
	s.protos = protoqlService{s: s}
	s.kvs = kvService{s: s}
	s.dbs.opts = s.runtimeOptions()
	s.grpc = grpc.NewServer(s.serverOptions()...)
	s.Register(s.grpc)
	// Reflection needs the token like protoql's services; health checks
	// do not, so that probes need no secret.
	registerReflection(s.Registrar(s.grpc), s.grpc)
	s.health = health.NewServer()
	s.setHealth(healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s
}

// digest returns the SHA-256 of a token, nil for none.
func digest(token string) *[sha256.Size]byte {
	if token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	return &sum
}

func (s *Server) serverOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.opts.MaxMessageSize),
		grpc.MaxSendMsgSize(s.opts.MaxMessageSize),
		grpc.KeepaliveParams(s.opts.Keepalive),
		grpc.KeepaliveEnforcementPolicy(keepaliveEnforcement),
		grpc.InTapHandle(s.tap),
		s.statsHandler(),
		// The caller's interceptors; protoql's own stages (status mapping,
		// token) wrap each of its services' handlers (register.go), so
		// these see the codes clients get.
		grpc.ChainUnaryInterceptor(s.opts.UnaryInterceptors...),
		grpc.ChainStreamInterceptor(s.opts.StreamInterceptors...),
	}
	if s.opts.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.opts.TLS)))
	}
	return append(opts, s.opts.ServerOptions...)
}

// GRPC returns the underlying gRPC server, to serve it on listeners of the
// caller's choosing or to register more services before serving.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Serve serves on lis until ctx ends, then shuts down gracefully: it
// stops accepting calls, waits up to the grace period for running ones,
// cancels the rest, and returns. It returns nil after a shutdown and the
// listener's error otherwise. A Server serves once. It refuses a listener
// that CheckExposure refuses.
//
// Besides protoql's services, Serve answers gRPC health checks
// (grpc.health.v1.Health: SERVING from the start of Serve, NOT_SERVING
// once shutdown begins) and server reflection, which lists and describes
// the services (`buf curl --list-methods`, grpcurl).
//
// Unless WithBuildIndexes(false), Serve also builds the indexes that are
// not readable yet in the background (runtime.DB.BuildIndexes: bounded
// batches that record their progress, logged), while it serves; queries
// through such an index fail with FailedPrecondition until it is done.
// Shutdown stops the build between two batches, before Serve returns; the
// next Serve resumes it. When no schema is stored as Serve starts, the
// build starts once one is: when a request first finds it (the server opens
// its database on the first request after the schema is stored).
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	if err := s.CheckExposure(lis.Addr()); err != nil {
		return err
	}
	if s.opts.BuildIndexes {
		bctx, cancel := context.WithCancel(ctx)
		s.stopBuild.Store(&cancel)
		built := make(chan struct{})
		go func() {
			defer close(built)
			s.buildIndexes(bctx)
		}()
		defer func() {
			cancel()
			<-built
		}()
	}
	s.setHealth(healthpb.HealthCheckResponse_SERVING)
	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Shutdown()
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Shutdown stops the server gracefully (see Serve). It stops the
// background index build at once (between two batches), before waiting
// for running calls.
func (s *Server) Shutdown() {
	s.health.Shutdown()
	if stop := s.stopBuild.Load(); stop != nil {
		(*stop)()
	}
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(s.opts.GracePeriod)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.opts.Logger.Warn("protoql server: grace period over, cancelling running calls", "grace", s.opts.GracePeriod)
		s.grpc.Stop()
		<-done
	}
}
