package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// inproc is a gRPC channel to services in this process, with no transport:
// services register on it (it is a grpc.ServiceRegistrar, so
// server.Register mounts the ProtoQLService with the same stages, status
// mapping included, as a network server runs) and generated clients call
// them through it (it is a grpc.ClientConnInterface). It is how --db
// serves the database to the commands, which then talk to it exactly as to
// a --remote server.
//
// Messages are copied by marshalling, as on the wire: neither side sees
// the other's values, and a message that does not marshal fails as it
// would over a network. Outgoing metadata becomes the handler's incoming
// metadata. It runs unary and server-streaming methods, which are all the
// CLI calls; client and bidirectional streams are refused.
type inproc struct {
	services map[string]*inprocService
	wg       sync.WaitGroup // running stream handlers
	ctx      context.Context
	stop     context.CancelFunc
}

type inprocService struct {
	desc *grpc.ServiceDesc
	impl any
}

var (
	_ grpc.ServiceRegistrar    = (*inproc)(nil)
	_ grpc.ClientConnInterface = (*inproc)(nil)
)

func newInproc() *inproc {
	ctx, stop := context.WithCancel(context.Background())
	return &inproc{services: map[string]*inprocService{}, ctx: ctx, stop: stop}
}

// RegisterService makes impl's methods callable; register before calling.
func (c *inproc) RegisterService(desc *grpc.ServiceDesc, impl any) {
	c.services[desc.ServiceName] = &inprocService{desc: desc, impl: impl}
}

// Close cancels the calls still running and waits for their handlers.
func (c *inproc) Close() {
	c.stop()
	c.wg.Wait()
}

// find splits "/service/method" and finds the service.
func (c *inproc) find(method string) (*inprocService, string, error) {
	svc, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	s := c.services[svc]
	if !ok || s == nil {
		return nil, "", status.Errorf(codes.Unimplemented, "unknown service %s", svc)
	}
	return s, name, nil
}

// serverContext is the handler's context: the caller's, with its outgoing
// metadata as incoming, cancelled also when the channel closes.
func (c *inproc) serverContext(ctx context.Context) (context.Context, context.CancelFunc) {
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx, cancel := context.WithCancel(metadata.NewIncomingContext(ctx, md))
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Invoke runs a unary method.
func (c *inproc) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	s, name, err := c.find(method)
	if err != nil {
		return err
	}
	for _, m := range s.desc.Methods {
		if m.MethodName != name {
			continue
		}
		req, err := marshal(args)
		if err != nil {
			return err
		}
		sctx, cancel := c.serverContext(ctx)
		defer cancel()
		resp, err := m.Handler(s.impl, sctx, func(v any) error { return unmarshal(req, v) }, nil)
		if err != nil {
			return toStatus(err)
		}
		b, err := marshal(resp)
		if err != nil {
			return err
		}
		return unmarshal(b, reply)
	}
	return status.Errorf(codes.Unimplemented, "unknown method %s", method)
}

// NewStream starts a server-streaming method: its handler runs in a
// goroutine of its own, sending into the stream the caller receives from.
func (c *inproc) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	s, name, err := c.find(method)
	if err != nil {
		return nil, err
	}
	if desc.ClientStreams {
		return nil, status.Errorf(codes.Unimplemented, "%s: the in-process channel runs no client streams", method)
	}
	for _, sd := range s.desc.Streams {
		if sd.StreamName != name {
			continue
		}
		sctx, cancel := c.serverContext(ctx)
		st := &inprocStream{ctx: ctx, sctx: sctx, req: make(chan []byte, 1), resp: make(chan []byte), done: make(chan struct{})}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer cancel()
			err := sd.Handler(s.impl, (*inprocServerStream)(st))
			if err != nil {
				st.err = toStatus(err)
			}
			close(st.done)
		}()
		return st, nil
	}
	return nil, status.Errorf(codes.Unimplemented, "unknown method %s", method)
}

// inprocStream is the caller's side of a stream.
type inprocStream struct {
	ctx  context.Context // the caller's
	sctx context.Context // the handler's
	req  chan []byte     // the one request
	resp chan []byte     // the handler's messages
	done chan struct{}   // closed when the handler has returned
	err  error           // the handler's status, set before done closes
}

func (s *inprocStream) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (s *inprocStream) Trailer() metadata.MD         { return metadata.MD{} }
func (s *inprocStream) CloseSend() error             { return nil }
func (s *inprocStream) Context() context.Context     { return s.ctx }

// SendMsg hands the handler its request; a server stream takes one.
func (s *inprocStream) SendMsg(m any) error {
	b, err := marshal(m)
	if err != nil {
		return err
	}
	select {
	case s.req <- b:
		return nil
	default:
		return status.Error(codes.Internal, "a server stream takes one request")
	}
}

// RecvMsg receives the handler's next message, io.EOF after its last, or
// its error.
func (s *inprocStream) RecvMsg(m any) error {
	select {
	case b := <-s.resp:
		return unmarshal(b, m)
	case <-s.done:
		if s.err != nil {
			return s.err
		}
		return io.EOF
	case <-s.ctx.Done():
		return ended(s.ctx)
	}
}

// inprocServerStream is the handler's side of a stream.
type inprocServerStream inprocStream

func (s *inprocServerStream) SetHeader(metadata.MD) error  { return nil }
func (s *inprocServerStream) SendHeader(metadata.MD) error { return nil }
func (s *inprocServerStream) SetTrailer(metadata.MD)       {}
func (s *inprocServerStream) Context() context.Context     { return s.sctx }

// SendMsg waits for the caller to receive m, or for the call to end.
func (s *inprocServerStream) SendMsg(m any) error {
	b, err := marshal(m)
	if err != nil {
		return err
	}
	select {
	case s.resp <- b:
		return nil
	case <-s.sctx.Done():
		return ended(s.sctx)
	}
}

// RecvMsg receives the request.
func (s *inprocServerStream) RecvMsg(m any) error {
	select {
	case b := <-s.req:
		return unmarshal(b, m)
	case <-s.sctx.Done():
		return ended(s.sctx)
	}
}

// ended is the status of a call whose context is done.
func ended(ctx context.Context) error { return status.FromContextError(ctx.Err()).Err() }

func marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, status.Errorf(codes.Internal, "in-process call: %T is not a protobuf message", m)
	}
	b, err := proto.Marshal(pm)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "in-process call: marshal %T: %v", m, err)
	}
	return b, nil
}

func unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "in-process call: %T is not a protobuf message", m)
	}
	if err := proto.Unmarshal(b, pm); err != nil {
		return status.Errorf(codes.Internal, "in-process call: unmarshal %T: %v", m, err)
	}
	return nil
}

// toStatus is what a gRPC server makes of a handler's error: a status
// error as it is, a context error as its status, anything else Unknown.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, fmt.Sprint(err))
}
