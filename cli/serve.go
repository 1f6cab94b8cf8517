package cli

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/protoql/protoql/server"
)

func serveCmd(conn *connFlags) *cobra.Command {
	var (
		listen         string
		tlsCert        string
		tlsKey         string
		limits         = server.DefaultLimits
		maxMessageSize int
		obs            observeFlags
		kvOn           bool
		insecure       bool
		buildIndexes   bool
	)
	cmd := &cobra.Command{
		Use:   "serve --db DIR",
		Short: "Serve a database over gRPC",
		Long: `Serve the database over gRPC: the ProtoQLService (queries, explain, schema,
put and delete of rows) and, with --kv, the KVService (the raw store, for
kv/remotekv and dump --remote). See proto/protoql/v1/service.proto and
docs/security.md.

Security. The server listens on 127.0.0.1 unless --listen says otherwise.
With --token-file, every call must carry "authorization: Bearer <token>";
with --tls-cert and --tls-key it serves TLS. It refuses to listen on any
other address without both, unless --insecure. The KVService is off unless
--kv; it then needs its own token (--kv-token-file), which alone admits its
calls (or --insecure, to admit them like the ProtoQLService's). It never
reads or writes protoql's metadata keys (first byte 0x00: the stored schema,
the cursor secret).

Limits apply to each request; 0 means unlimited, except for the query
text's size and nesting, which are always bounded:
  --timeout           the longest any call may run, streams and remote
                      transactions included (default 1m)
  --max-rows          results of one query (default 10000)
  --max-keys          keys one query reads, pairs one scan returns
                      (default 1000000)
  --max-bytes         bytes one query reads or one scan returns
                      (default 256 MiB)
  --max-query-bytes   the length of a query's text, checked before it is
                      parsed (default 64 KiB; 0: the default, it cannot
                      be lifted)
  --max-query-depth   the nesting of selections {…} in a query (default
                      32; 0: the default; at most 1000)
  --max-message-size  every message received or sent, which bounds the
                      largest value, batch and request (default 16 MiB)
A query or scan that reaches a limit ends with ResourceExhausted and a
cursor (scans: a truncated flag) to resume from. Status messages are cut
at 4 KiB. Clients silent for 30s are pinged and dropped, with their calls,
if they do not answer within 10s; clients may ping at most every 10s.

Faults. Corrupt data found on disk fails the request that read it with
DataLoss, naming the damaged keys, and is logged; the server keeps
serving. A damaged end of the newest write-ahead log is logged at start.

Indexes. An index added to the schema of a database that already held
rows is not readable until it is built: serve builds such indexes in the
background while it serves, in small transactions that record their
progress (logged), so that a stopped server resumes the build at its next
start. Until an index is built, queries through it fail with
FailedPrecondition; then they succeed, without a restart.
--build-indexes=false leaves them to "protoql build-indexes".

SIGINT or SIGTERM stops it gracefully: running calls finish (for up to
10s), then the database is closed.

It also answers gRPC health checks (SERVING while it serves, NOT_SERVING
once it stops) and server reflection, so that tools such as
"buf curl --list-methods" and grpcurl describe its services. Each call is
logged to standard error (--access-log=false turns that off); with
--metrics-addr it serves Prometheus metrics of the server, the queries,
writes and transactions, Pebble and the Go runtime at /metrics.

Once listening, it prints "listening on ADDR" to standard error.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if conn.remote != "" || conn.db == "" {
				return usagef("serve needs --db (and no --remote)")
			}
			if (tlsCert == "") != (tlsKey == "") {
				return usagef("give both --tls-cert and --tls-key, or neither")
			}
			for _, f := range []struct {
				name string
				neg  bool
			}{
				{"--timeout", limits.Timeout < 0}, {"--max-rows", limits.MaxRows < 0}, {"--max-keys", limits.MaxKeys < 0},
				{"--max-bytes", limits.MaxBytes < 0}, {"--max-message-size", maxMessageSize < 0},
				{"--max-query-bytes", limits.MaxTextBytes < 0}, {"--max-query-depth", limits.MaxDepth < 0},
			} {
				if f.neg {
					return usagef("%s must not be negative", f.name)
				}
			}
			opts := []server.Option{
				server.WithLimits(limits),
				server.WithMaxMessageSize(maxMessageSize),
				server.WithLogger(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))),
				server.WithBuildIndexes(buildIndexes),
			}
			if insecure {
				opts = append(opts, server.WithInsecure())
			}
			switch {
			case conn.kvTokenFile != "" && !kvOn:
				return usagef("--kv-token-file goes with --kv")
			case kvOn && conn.kvTokenFile == "" && !insecure:
				return usagef("--kv serves every key of the store: give it its own token with --kv-token-file (or accept the risk with --insecure)")
			case kvOn:
				tok := ""
				if conn.kvTokenFile != "" {
					var err error
					if tok, err = readToken(conn.kvTokenFile); err != nil {
						return err
					}
				}
				opts = append(opts, server.WithKV(tok))
			}
			if conn.tokenFile != "" {
				tok, err := readToken(conn.tokenFile)
				if err != nil {
					return err
				}
				opts = append(opts, server.WithToken(tok))
			}
			if tlsCert != "" {
				cert, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
				if err != nil {
					return err
				}
				opts = append(opts, server.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
			}
			return serve(cmd, conn.db, listen, opts, &obs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", server.DefaultAddr, "address to listen on")
	f.StringVar(&tlsCert, "tls-cert", "", "serve TLS with the certificate in this PEM file")
	f.StringVar(&tlsKey, "tls-key", "", "serve TLS with the private key in this PEM file")
	f.DurationVar(&limits.Timeout, "timeout", limits.Timeout, "longest time any call may run")
	f.IntVar(&limits.MaxRows, "max-rows", limits.MaxRows, "most results of one query")
	f.IntVar(&limits.MaxKeys, "max-keys", limits.MaxKeys, "most keys one query reads or one scan returns")
	f.IntVar(&limits.MaxBytes, "max-bytes", limits.MaxBytes, "most bytes one query reads or one scan returns")
	f.IntVar(&maxMessageSize, "max-message-size", server.DefaultMaxMessageSize, "largest message received or sent, in bytes")
	f.IntVar(&limits.MaxTextBytes, "max-query-bytes", limits.MaxTextBytes, "longest query text, in bytes (0: the default; cannot be lifted)")
	f.IntVar(&limits.MaxDepth, "max-query-depth", limits.MaxDepth, "deepest nesting of selections {…} in a query (0: the default; at most 1000)")
	obs.register(cmd)
	f.BoolVar(&kvOn, "kv", false, "also serve the KVService (raw keys but the metadata), with the token of --kv-token-file")
	f.BoolVar(&buildIndexes, "build-indexes", true, "build the indexes that are not readable yet in the background while serving")
	f.BoolVar(&insecure, "insecure", false, "allow a non-loopback --listen without --token-file and TLS, and --kv without --kv-token-file")
	return cmd
}

// serve runs the server until SIGINT or SIGTERM, then closes the store.
func serve(cmd *cobra.Command, db, listen string, opts []server.Option, obs *observeFlags) (err error) {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Check the address before opening (or creating) the database.
	if addr, err := net.ResolveTCPAddr("tcp", listen); err == nil {
		if err := server.CheckExposure(addr, opts...); err != nil {
			return usagef("--listen %s: %v", listen, err)
		}
	}
	store, err := openStore(ctx, db, true)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil {
			err = cerr
		}
	}()
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	defer lis.Close()
	obsOpts, stopObs, err := obs.start(cmd, store)
	if err != nil {
		return err
	}
	defer stopObs()
	srv := server.New(store, append(opts, obsOpts...)...)
	fmt.Fprintf(cmd.ErrOrStderr(), "protoql: serving %s; listening on %s\n", db, lis.Addr())
	if err := srv.Serve(ctx, lis); err != nil {
		return err
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "protoql: stopped")
	return nil
}
