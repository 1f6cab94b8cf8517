package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrExposed is returned by Serve and CheckExposure for a server that would
// answer anyone on the network without authenticating them or without
// encrypting what they exchange.
var ErrExposed = errors.New("server: refusing to serve a non-loopback address without a token and TLS")

// CheckExposure returns an error wrapping ErrExposed when addr is a TCP
// address other than loopback (a wildcard address included) and the server
// lacks a token or TLS, unless it was built WithInsecure. Other listeners
// (loopback, Unix sockets, in-memory ones) are the machine's own business.
func (s *Server) CheckExposure(addr net.Addr) error { return checkExposure(addr, &s.opts) }

// CheckExposure is Server.CheckExposure for a server built with opts, for
// checking an address before opening anything.
func CheckExposure(addr net.Addr, opts ...Option) error {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	return checkExposure(addr, &o)
}

func checkExposure(addr net.Addr, o *Options) error {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() || o.Insecure {
		return nil
	}
	var missing []string
	if o.Token == "" {
		missing = append(missing, "a token (WithToken, --token-file)")
	}
	if o.TLS == nil {
		missing = append(missing, "TLS (WithTLS, --tls-cert and --tls-key)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s is reachable from other machines, and the server lacks %s; add it, or accept the risk with WithInsecure (--insecure)",
		ErrExposed, addr, strings.Join(missing, " and "))
}
