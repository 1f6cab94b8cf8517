package server

import (
	"context"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// Register registers the server's services on r — usually the caller's own
// *grpc.Server, next to the caller's services — so that one listener serves
// both:
//
//	gs := grpc.NewServer(myOptions...)
//	notesv1.RegisterNotesServiceServer(gs, notes)
//	server.New(store, server.WithToken(tok)).Register(gs)
//	gs.Serve(lis)
//
// Every call of a registered service runs through the same stages as under
// [Server.Serve], in this order: the access log ([WithAccessLog]), the
// status mapping of [Status] with panic recovery, the token check of
// [WithToken], and Limits.Timeout on the call's context. They run inside
// r's own interceptors, which therefore see protoql's status codes, and
// they apply to protoql's services only: the caller's other services are
// untouched.
//
// Two things differ from Serve, because they belong to the grpc.Server and
// not to a service: the options of [WithTLS], [WithMaxMessageSize],
// [WithServerOptions] and the interceptor options do not apply (set them on
// your server), and Limits.Timeout bounds a call through its context only,
// so a remote transaction whose client stops sending is ended by your
// server's keepalive and connection settings rather than by the timeout.
// Serve also registers gRPC health checking and server reflection; on your
// server, register those yourself (google.golang.org/grpc/health and
// google.golang.org/grpc/reflection).
func (s *Server) Register(r grpc.ServiceRegistrar) {
	reg := s.Registrar(r)
	protoqlv1.RegisterProtoQLServiceServer(reg, &s.protos)
	if s.opts.KV {
		protoqlv1.RegisterKVServiceServer(reg, &s.kvs)
	}
}

// Registrar returns a grpc.ServiceRegistrar that registers services on r
// behind the stages that protoql's own services run through (see
// [Server.Register]): the server's token, status mapping, timeout and
// access log. Serve uses it for server reflection, so that reflection needs
// the token too.
func (s *Server) Registrar(r grpc.ServiceRegistrar) grpc.ServiceRegistrar {
	return registrar{s: s, r: r}
}

// registrar wraps the handlers of every service registered through it.
type registrar struct {
	s *Server
	r grpc.ServiceRegistrar
}

func (g registrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		d.Methods[i] = grpc.MethodDesc{MethodName: m.MethodName, Handler: g.s.wrapUnary(m.Handler)}
	}
	d.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, sd := range desc.Streams {
		sd.Handler = g.s.wrapStream(desc.ServiceName, sd)
		d.Streams[i] = sd
	}
	g.r.RegisterService(&d, impl)
}

// methodHandler is the type of grpc.MethodDesc.Handler, spelled out
// because grpc-go before 1.66 (which kv/tikvkv's client-go needs) does not
// export its name.
type methodHandler = func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error)

// wrapUnary runs a unary method's handler inside outer (the interceptors of
// the grpc.Server it is registered on, nil without any) and then the
// server's own stages.
func (s *Server) wrapUnary(h methodHandler) methodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, outer grpc.UnaryServerInterceptor) (any, error) {
		inner := s.unaryStages
		if outer != nil {
			inner = func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				return outer(ctx, req, info, func(ctx context.Context, req any) (any, error) {
					return s.unaryStages(ctx, req, info, h)
				})
			}
		}
		return h(srv, ctx, dec, inner)
	}
}

// wrapStream runs a streaming method's handler inside the server's own
// stages. The grpc.Server's stream interceptors run around the handler
// registered, so outside them.
func (s *Server) wrapStream(service string, sd grpc.StreamDesc) grpc.StreamHandler {
	info := &grpc.StreamServerInfo{
		FullMethod:     "/" + service + "/" + sd.StreamName,
		IsClientStream: sd.ClientStreams,
		IsServerStream: sd.ServerStreams,
	}
	h := sd.Handler
	return func(srv any, ss grpc.ServerStream) error {
		return s.streamStages(srv, ss, info, h)
	}
}

// unaryStages is the server's chain for a unary call: access log, status
// mapping (with panic recovery), token, timeout.
func (s *Server) unaryStages(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	acc := s.startAccess(ctx, info.FullMethod)
	resp, err := s.unaryStatus(ctx, req, info, func(ctx context.Context, req any) (any, error) {
		return s.unaryAuth(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			ctx, cancel := s.callTimeout(ctx)
			defer cancel()
			return h(ctx, req)
		})
	})
	acc.end(err)
	return resp, err
}

// streamStages is unaryStages for streams.
func (s *Server) streamStages(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	acc := s.startAccess(ss.Context(), info.FullMethod)
	ss = &callStream{ServerStream: ss, ctx: ss.Context(), acc: acc}
	err := s.streamStatus(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
		return s.streamAuth(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			cs := ss.(*callStream)
			ctx, cancel := s.callTimeout(cs.ctx)
			defer cancel()
			cs.ctx = ctx
			return h(srv, cs)
		})
	})
	acc.end(err)
	return err
}

// callTimeout bounds ctx by Limits.Timeout. Under Serve the transport's
// stream context has that deadline already (see tap); mounted on another
// server, this is the bound.
func (s *Server) callTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.Limits.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.Limits.Timeout)
}

// callStream is a ServerStream with the call's own context, counting the
// messages it sends for the access log.
type callStream struct {
	grpc.ServerStream
	ctx context.Context
	acc *access
}

func (c *callStream) Context() context.Context { return c.ctx }

func (c *callStream) SendMsg(m any) error {
	err := c.ServerStream.SendMsg(m)
	if err == nil {
		c.acc.sent()
	}
	return err
}

// registerReflection registers server reflection (v1, and v1alpha for
// older clients) on r, describing the services of gs.
func registerReflection(r grpc.ServiceRegistrar, gs *grpc.Server) {
	opts := reflection.ServerOptions{Services: gs}
	reflectionv1.RegisterServerReflectionServer(r, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(r, reflection.NewServer(opts))
}

// setHealth sets the health status of the server as a whole (the empty
// service name) and of each protoql service.
func (s *Server) setHealth(st healthpb.HealthCheckResponse_ServingStatus) {
	names := []string{"", protoqlv1.ProtoQLService_ServiceDesc.ServiceName}
	if s.opts.KV {
		names = append(names, protoqlv1.KVService_ServiceDesc.ServiceName)
	}
	for _, name := range names {
		s.health.SetServingStatus(name, st)
	}
}
