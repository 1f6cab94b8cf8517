// Package server serves a protoql database over gRPC: the ProtoQLService
// (queries, explain, schema, whole-row writes) and the KVService (the raw
// ordered store, for kv/remotekv), both defined in
// proto/protoql/v1/service.proto, over any kv.Store.
//
// # Security
//
// Serve binds where its listener is bound; [DefaultAddr] is loopback, and
// the CLI listens there unless told otherwise. [WithTLS] serves TLS.
// [WithToken] makes every RPC, streams included, require the metadata
// "authorization: Bearer <token>": the token is compared in constant time
// (as SHA-256 digests, so not even its length leaks), and a call without it
// is refused with Unauthenticated before any handler runs. The KVService
// gives whoever holds the token the whole store: serve it only to trusted
// clients.
//
// # Limits
//
// Every RPC runs under a deadline ([Limits].Timeout, or the client's if
// shorter). A Query stops after MaxRows results, MaxKeys keys read or
// MaxBytes bytes read and then ends with ResourceExhausted and a cursor to
// resume from; a KV Scan stops after MaxKeys pairs or MaxBytes bytes with
// its truncated flag set. [WithMaxMessageSize] bounds every message both
// ways, which also bounds the largest value and batch the KVService moves.
// A query's text is refused (InvalidArgument, with the position) over
// MaxQueryBytes (default 64 KiB) or with selections nested deeper than
// MaxQueryDepth (default 32, at most 1000), before it is parsed any
// deeper: compiling costs time and memory linear in the text, and results
// nest shallowly enough for every protobuf-go client to decode.
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
// store without a schema answers FailedPrecondition until one is stored,
// for example by a remote runtime.Open(remotekv store, WithSchema(...)); a
// write through the KVService to the metadata keys (first byte 0x00)
// reloads it. Writes that reach the store some other way (another process
// on a shared TiKV cluster) are not noticed until the server restarts.
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
