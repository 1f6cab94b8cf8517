package server

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/runtime"
)

// WithServerOptions adds options to the grpc.Server that New builds for
// Serve (keepalive, connection limits, a stats handler...). They come
// after protoql's own, so a later setting of the same option wins.
func WithServerOptions(opts ...grpc.ServerOption) Option {
	return func(o *Options) { o.ServerOptions = append(o.ServerOptions, opts...) }
}

// WithUnaryInterceptors adds unary interceptors to the grpc.Server that New
// builds for Serve. They run first to last, outside protoql's own stages,
// so they see the status codes the client gets (see Register).
func WithUnaryInterceptors(is ...grpc.UnaryServerInterceptor) Option {
	return func(o *Options) { o.UnaryInterceptors = append(o.UnaryInterceptors, is...) }
}

// WithStreamInterceptors is WithUnaryInterceptors for streams.
func WithStreamInterceptors(is ...grpc.StreamServerInterceptor) Option {
	return func(o *Options) { o.StreamInterceptors = append(o.StreamInterceptors, is...) }
}

// WithAccessLog logs one line per call of protoql's services to l, at
// level Info: method, status code, duration, peer, and for streams the
// messages sent (rows, for Query). Off by default.
func WithAccessLog(l *slog.Logger) Option { return func(o *Options) { o.AccessLog = l } }

// WithTracerProvider sets where the server's spans go: gRPC spans from
// otelgrpc under Serve, and the runtime's query, write and transaction
// spans. Without it, the global provider of go.opentelemetry.io/otel is
// used, which records nothing until a program sets one.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *Options) { o.TracerProvider = tp }
}

// WithMeterProvider is WithTracerProvider for metrics.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *Options) { o.MeterProvider = mp }
}

// statsHandler is otelgrpc's server instrumentation for the grpc.Server
// Serve runs: a span per call and the rpc.server.* metrics.
func (s *Server) statsHandler() grpc.ServerOption {
	var opts []otelgrpc.Option
	if s.opts.TracerProvider != nil {
		opts = append(opts, otelgrpc.WithTracerProvider(s.opts.TracerProvider))
	}
	if s.opts.MeterProvider != nil {
		opts = append(opts, otelgrpc.WithMeterProvider(s.opts.MeterProvider))
	}
	return grpc.StatsHandler(otelgrpc.NewServerHandler(opts...))
}

// access is one call's access-log record; nil when there is no access log.
// It belongs to the call's handler goroutine.
type access struct {
	log    *slog.Logger
	ctx    context.Context
	method string
	start  time.Time
	stream bool
	n      int
}

var queryMethod = "/" + protoqlv1.ProtoQLService_ServiceDesc.ServiceName + "/Query"

func (s *Server) startAccess(ctx context.Context, method string) *access {
	if s.opts.AccessLog == nil {
		return nil
	}
	return &access{log: s.opts.AccessLog, ctx: ctx, method: method, start: time.Now()}
}

// sent counts a message sent on a stream.
func (a *access) sent() {
	if a != nil {
		a.stream = true
		a.n++
	}
}

// end logs the call with err, the status error the client gets.
func (a *access) end(err error) {
	if a == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", a.method),
		slog.String("code", status.Code(err).String()),
		slog.Duration("duration", time.Since(a.start)),
	}
	if p, ok := peer.FromContext(a.ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	switch {
	case a.method == queryMethod:
		attrs = append(attrs, slog.Int("rows", a.n))
	case a.stream:
		attrs = append(attrs, slog.Int("sent", a.n))
	}
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "rpc", attrs...)
}

// runtimeOptions passes the telemetry providers on to the runtime.
func (s *Server) runtimeOptions() []runtime.Option {
	var opts []runtime.Option
	if s.opts.TracerProvider != nil {
		opts = append(opts, runtime.WithTracerProvider(s.opts.TracerProvider))
	}
	if s.opts.MeterProvider != nil {
		opts = append(opts, runtime.WithMeterProvider(s.opts.MeterProvider))
	}
	return opts
}
