package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/remotekv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/server"
)

// connFlags say which database a command works on.
type connFlags struct {
	db            string
	remote        string
	tokenFile     string
	kvTokenFile   string
	tls           bool
	tlsCA         string
	tlsServerName string
}

func (c *connFlags) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.db, "db", "", "open the database in this Pebble directory (or SCHEME:… of a registered engine; mem: is an empty in-memory store)")
	f.StringVar(&c.remote, "remote", "", "talk to the protoql server at this address (host:port)")
	f.StringVar(&c.tokenFile, "token-file", "", "with --remote: send the bearer token in this file; with serve: require it")
	f.StringVar(&c.kvTokenFile, "kv-token-file", "", "with --remote: the token of the server's KVService, for dump (default: --token-file's); with serve --kv: require it on KVService calls")
	f.BoolVar(&c.tls, "tls", false, "with --remote: connect with TLS, verifying the server with the system's roots")
	f.StringVar(&c.tlsCA, "tls-ca", "", "with --remote: connect with TLS, verifying the server with the CA certificates in this PEM file")
	f.StringVar(&c.tlsServerName, "tls-server-name", "", "with --remote: the name to verify in the server's certificate (default: the host of --remote)")
}

// client is a connection to a database, remote or served in-process.
type client struct {
	pq protoqlv1.ProtoQLServiceClient
	// store holds the raw keys, for dump and the REPL's edits: with --db
	// the database itself, with --remote the server's KVService (without
	// the metadata keys, which a server does not give out).
	store  kv.Store
	remote bool
	conn   io.Closer    // the channel pq calls through
	close  func() error // releases store and whatever else the client holds
	where  string       // for messages: the directory or the address
	sch    *schemaInfo
	db     *runtime.DB // opened by runtimeDB
}

// Close releases the connection and, for --db, the database.
func (c *client) Close() error {
	err := c.conn.Close()
	if cerr := c.close(); err == nil || errors.Is(err, kv.ErrClosed) {
		err = cerr
	}
	return err
}

// connect opens the database that the flags name.
func (c *connFlags) connect(ctx context.Context) (*client, error) {
	switch {
	case c.db != "" && c.remote != "":
		return nil, usagef("give --db or --remote, not both")
	case c.db != "":
		if c.tls || c.tlsCA != "" || c.tokenFile != "" || c.kvTokenFile != "" {
			return nil, usagef("--tls, --tls-ca, --token-file and --kv-token-file go with --remote (or serve)")
		}
		return c.local(ctx)
	case c.remote != "":
		return c.dialRemote()
	}
	return nil, usagef("say which database: --db DIR or --remote ADDR")
}

// local serves the --db database in-process: its ProtoQLService, with the
// stages of a network server (status mapping included) but no limits, is
// called through an in-process channel, with no transport.
func (c *connFlags) local(ctx context.Context) (*client, error) {
	store, err := openStore(ctx, c.db, false)
	if err != nil {
		return nil, err
	}
	ch := newInproc()
	server.New(store, server.WithLimits(server.Limits{})).Register(ch)
	cl := &client{pq: protoqlv1.NewProtoQLServiceClient(ch), conn: closerFunc(ch.Close), where: c.db, store: store}
	cl.close = store.Close
	return cl, nil
}

// closerFunc is an io.Closer that cannot fail.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

func (c *connFlags) dialRemote() (*client, error) {
	var o remotekv.Options
	if c.tokenFile != "" {
		tok, err := readToken(c.tokenFile)
		if err != nil {
			return nil, err
		}
		o.Token = tok
	}
	if c.tls || c.tlsCA != "" {
		cfg, err := c.clientTLS()
		if err != nil {
			return nil, err
		}
		o.TLS = cfg
	}
	conn, err := dial(c.remote, o)
	if err != nil {
		return nil, err
	}
	cl := &client{pq: protoqlv1.NewProtoQLServiceClient(conn), conn: conn, where: c.remote, remote: true}
	kvConn := conn
	if c.kvTokenFile != "" {
		// The KVService's own token goes on a connection of its own.
		if o.Token, err = readToken(c.kvTokenFile); err == nil {
			kvConn, err = dial(c.remote, o)
		}
		if err != nil {
			cl.conn.Close()
			return nil, err
		}
	}
	store := remotekv.New(kvConn, remotekv.WithMaxMessageSize(server.DefaultMaxMessageSize))
	cl.store = store
	cl.close = func() error {
		err := store.Close()
		if kvConn != conn {
			if cerr := kvConn.Close(); err == nil {
				err = cerr
			}
		}
		return err
	}
	return cl, nil
}

func dial(target string, o remotekv.Options) (*grpc.ClientConn, error) {
	o.MaxMessageSize = server.DefaultMaxMessageSize
	opts := append(remotekv.DialOptions(o), grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(o.MaxMessageSize), grpc.MaxCallSendMsgSize(o.MaxMessageSize)))
	return grpc.NewClient(target, opts...)
}

func (c *connFlags) clientTLS() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.tlsServerName}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(c.remote); err == nil {
			cfg.ServerName = host
		}
	}
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", c.tlsCA)
		}
	}
	return cfg, nil
}

// readToken reads a token file: its content without surrounding white
// space, which must not be empty.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
