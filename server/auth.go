package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

var errUnauthenticated = status.Error(codes.Unauthenticated, `missing or wrong token: send the metadata "authorization: Bearer <token>"`)

// kvMethods prefixes the full method names of the KVService.
var kvMethods = "/" + protoqlv1.KVService_ServiceDesc.ServiceName + "/"

// tokenFor returns the digest of the token that method needs, nil for none:
// the KVService's own token when it has one, the server's otherwise.
func (s *Server) tokenFor(method string) *[sha256.Size]byte {
	if s.kvToken != nil && strings.HasPrefix(method, kvMethods) {
		return s.kvToken
	}
	return s.token
}

// authorized reports whether ctx carries want, the digest of the token a
// call needs; a nil want authorizes every call.
func authorized(ctx context.Context, want *[sha256.Size]byte) bool {
	if want == nil {
		return true
	}
	md, _ := metadata.FromIncomingContext(ctx)
	ok := 0
	for _, v := range md.Get("authorization") {
		scheme, tok, found := strings.Cut(v, " ")
		if !found || !strings.EqualFold(scheme, "bearer") {
			continue
		}
		// Comparing fixed-size digests in constant time reveals neither
		// the token's bytes nor its length through timing.
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		ok |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	return ok == 1
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if !authorized(ctx, s.tokenFor(info.FullMethod)) {
		return nil, errUnauthenticated
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !authorized(ss.Context(), s.tokenFor(info.FullMethod)) {
		return errUnauthenticated
	}
	return h(srv, ss)
}
