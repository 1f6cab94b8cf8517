// Package server serves a protoql database over gRPC: the ProtoQLService
// (queries, explain, schema, whole-row writes) and the KVService (the raw
// ordered store, for kv/remotekv), both defined in
// proto/protoql/v1/service.proto, over any kv.Store.
//
// # Security
//
// The threat model is written up in docs/security.md. In short, the safe
// thing is the default:
//
//   - Serve binds where its listener is bound; [DefaultAddr] is loopback,
//     and the CLI listens there unless told otherwise. Serve (and the CLI,
//     before it opens the database) refuses a TCP address other than
//     loopback, wildcard addresses included, unless the server has both a
//     token and TLS, or was built [WithInsecure] ([CheckExposure]).
//   - [WithToken] makes every RPC, streams included, require the metadata
//     "authorization: Bearer <token>": the token is compared in constant
//     time (as SHA-256 digests, so not even its length leaks), and a call
//     without it is refused with Unauthenticated before any handler runs.
//   - The KVService (raw keys, for kv/remotekv) is not served unless
//     [WithKV]: without it, its methods answer Unimplemented. Give it a
//     token of its own: its calls then need that token, and the
//     ProtoQLService's token does not admit them.
//   - Even then, the KVService never reads or writes protoql's metadata
//     keys, those whose first byte is 0x00 (the stored schema, the secret
//     that signs cursors): a Get or a write of one, in Apply or in a
//     Transact, fails with PermissionDenied and changes nothing, and scans
//     skip them. A runtime on kv/remotekv therefore opens its DB in a
//     namespace (runtime.WithNamespace).
//   - Keepalive ([DefaultKeepalive], [WithKeepalive]): a connection silent
//     for 30 s is pinged and closed, with its calls, when no answer comes
//     within 10 s, so a vanished client does not hold a transaction; a
//     client may ping at most every 10 s.
//
// # Limits
//
// Every request has a bounded cost; [Limits] and [DefaultLimits] hold the
// numbers, and `protoql serve --help` lists them with their flags.
//
//   - Time: every RPC runs under a deadline ([Limits].Timeout, default 1
//     minute, or the client's if shorter), streams and remote transactions
//     included.
//   - Size of a request: [WithMaxMessageSize] (default 16 MiB) bounds every
//     message both ways, which also bounds the largest value, batch and
//     query; a larger message is refused with ResourceExhausted before it
//     is decoded.
//   - A query's text (Query, Explain, Delete by key) is refused
//     (InvalidArgument, with the position) over MaxTextBytes (default 64
//     KiB) or with selections nested deeper than MaxDepth (default
//     32, at most 1000), before it is parsed any deeper: compiling costs
//     time and memory linear in the text, and results nest shallowly
//     enough for every protobuf-go client to decode.
//   - Work of a request: a Query stops after MaxRows results (default
//     10,000), MaxKeys keys read (1,000,000) or MaxBytes bytes read (256
//     MiB) and then ends with ResourceExhausted and a cursor to resume
//     from; a KV Scan stops after MaxKeys pairs or MaxBytes bytes with its
//     truncated flag set. A request may lower these limits, not raise them.
//   - Memory of a query: a row larger than 1 MiB (or half the message
//     size, when smaller) is sent as several QueryResponses, every piece
//     but the last marked partial, so the server holds one piece of a row
//     at a time and no row is too large to send; clients merge the pieces
//     (runtime.MergeRow; the CLI does). A piece holds at least one stored
//     pair, and a value may be 4 MiB (runtime.MaxValueSize), so keep the
//     message size above 8 MiB if such values are stored.
//   - Size of an answer: status messages are cut at 4 KiB, so an error
//     never echoes a client's megabytes back (which would break its
//     connection); error messages show at most 64 bytes of a key.
//
// # Faults
//
// Corrupt data found on disk (an engine error wrapping kv.ErrCorrupt, or
// runtime.ErrCorrupt for values that do not decode) fails only the request
// that read it, with DataLoss and a message naming the damaged keys, and is
// logged; the server goes on serving everything else. kv/pebblekv turns
// Pebble's checksum failures into such errors instead of exiting, and
// reports a damaged end of its write-ahead log when it opens.
//
// A KV transaction (the Transact stream behind kv/remotekv's Update, View
// and Store-level iterators) ends when its client leaves it idle for
// [Limits].TxnIdle (default 5 s) or when it has run [Limits].TxnLifetime
// (default 30 s), with DeadlineExceeded (kv.ErrExpired on the client); it
// is rolled back and the event is logged. The stores hold no lock while a
// transaction runs, so a stalled client delays no other writer even within
// these limits; they bound what it pins. A conflict at commit is answered
// with "restart", and the client runs its function again.
//
// # Errors
//
// Handlers return ordinary Go errors; one stage wrapped around every
// handler turns them into gRPC statuses with [Status] (status.go), and
// nowhere else does. Status is exported so that a service calling the
// runtime itself answers the same codes. A mistake in a query answers
// InvalidArgument with the position in the text, also as a QueryError
// detail. An error the client cannot act on is logged with an id and
// answered with Internal and that id only; panics are recovered the same
// way, so no stack trace or internal detail reaches a client.
//
// # Schema
//
// The ProtoQLService works on the schema stored in the database, opened
// with runtime.Open and no WithSchema, so rows are dynamicpb messages. A
// store without a schema answers FailedPrecondition until one is stored (by
// a program that opens the database with runtime.WithSchema); the server
// tries again on each call until then, and keeps the schema it found from
// then on (a compatible extension stored later by another program is seen
// after a restart). The KVService cannot change it.
//
// # Embedding
//
// [Server.Register] mounts the services on a caller's grpc.Server (any
// grpc.ServiceRegistrar), next to the caller's own services; the token,
// status mapping, timeout and access log apply to protoql's services only,
// inside the caller's interceptors. For the server Serve runs,
// [WithServerOptions], [WithUnaryInterceptors] and [WithStreamInterceptors]
// add gRPC options and interceptors, which run outside protoql's stages.
//
// # Health, reflection, telemetry
//
// Serve also serves gRPC health checking (SERVING while serving,
// NOT_SERVING from the start of shutdown; no token needed) and server
// reflection (behind the token). [WithTracerProvider] and
// [WithMeterProvider] send otelgrpc's per-call spans and metrics and the
// runtime's query, write and transaction spans and metrics to the given
// OpenTelemetry providers (default: otel's globals, no-ops until set).
// [WithAccessLog] logs one line per call.
//
// # Shutdown
//
// When Serve's context ends, the server stops accepting calls and waits for
// the running ones (up to the grace period, then cancels them): every write
// acknowledged to a client was committed to the store before its answer,
// and an interrupted transaction was never acknowledged and rolls back.
// The caller closes the store after Serve returns.
package server
