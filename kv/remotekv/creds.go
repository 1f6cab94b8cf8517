package remotekv

import (
	"context"

	"google.golang.org/grpc/credentials"
)

// BearerToken returns per-RPC credentials that send
// "authorization: Bearer <token>", as a protoql server with a token
// requires.
//
// They do not demand a secure transport: the server listens on loopback by
// default, where plaintext is usual. Over any other network, dial with TLS
// (WithTLS), or the token travels in the clear.
func BearerToken(token string) credentials.PerRPCCredentials { return bearer(token) }

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }
