package server

import (
	"bytes"
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/protoql/protoql/kv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// kvService implements protoqlv1.KVServiceServer over the server's store.
type kvService struct {
	protoqlv1.UnimplementedKVServiceServer
	s *Server
}

// Pages of pairs are cut at this many bytes (or the message size limit, if
// smaller), and at maxPagePairs pairs, so that a message stays well inside
// the message size limit and a stream's memory stays bounded.
const (
	maxPageBytes = 1 << 20
	maxPagePairs = 4096
	// pairOverhead approximates the framing of one KeyValue.
	pairOverhead = 8
)

func (k *kvService) pageBytes() int { return min(maxPageBytes, k.s.opts.MaxMessageSize/2) }

func (k *kvService) Get(ctx context.Context, req *protoqlv1.GetRequest) (*protoqlv1.GetResponse, error) {
	if err := refuseMetaKey(req.GetKey()); err != nil {
		return nil, err
	}
	v, err := k.s.store.Get(ctx, req.GetKey())
	if errors.Is(err, kv.ErrNotFound) {
		return &protoqlv1.GetResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &protoqlv1.GetResponse{Found: true, Value: v}, nil
}

func (k *kvService) Apply(ctx context.Context, req *protoqlv1.ApplyRequest) (*protoqlv1.ApplyResponse, error) {
	b := kv.NewBatch()
	for _, op := range req.GetOperations() {
		o, err := opFromProto(op)
		if err != nil {
			return nil, err
		}
		if err := addOp(b, o); err != nil {
			return nil, err
		}
	}
	if err := k.s.store.Apply(ctx, b); err != nil {
		return nil, err
	}
	return &protoqlv1.ApplyResponse{}, nil
}

// opFromProto converts a wire operation, checking its kind, and refuses
// one that touches the metadata keys.
func opFromProto(op *protoqlv1.Operation) (kv.Op, error) {
	o, err := opKind(op)
	if err != nil {
		return kv.Op{}, err
	}
	return o, refuseMetaOp(o)
}

func opKind(op *protoqlv1.Operation) (kv.Op, error) {
	switch op.GetKind() {
	case protoqlv1.Operation_KIND_SET:
		return kv.Op{Kind: kv.OpSet, Key: op.GetKey(), Value: op.GetValue()}, nil
	case protoqlv1.Operation_KIND_DELETE:
		return kv.Op{Kind: kv.OpDelete, Key: op.GetKey()}, nil
	case protoqlv1.Operation_KIND_DELETE_RANGE:
		return kv.Op{Kind: kv.OpDeleteRange, Key: op.GetKey(), Value: op.GetEnd()}, nil
	}
	return kv.Op{}, badRequest("operation kind %v", op.GetKind())
}

// addOp records op in w, a Batch or a Txn.
func addOp(w kv.Writer, op kv.Op) error {
	switch op.Kind {
	case kv.OpSet:
		return w.Set(op.Key, op.Value)
	case kv.OpDelete:
		return w.Delete(op.Key)
	default:
		return w.DeleteRange(op.Key, op.Value)
	}
}

// iterOptions converts wire iterator options, with the bounds raised past
// the metadata keys, which KVService scans never show.
func iterOptions(o *protoqlv1.IteratorOptions) kv.IterOptions {
	lo, hi := hideMeta(o.GetLowerBound(), o.GetUpperBound())
	return kv.IterOptions{LowerBound: lo, UpperBound: hi, Reverse: o.GetReverse()}
}

func (k *kvService) Scan(req *protoqlv1.ScanRequest, stream grpc.ServerStreamingServer[protoqlv1.ScanResponse]) (err error) {
	ctx := stream.Context()
	it, err := k.s.store.NewIter(ctx, iterOptions(req.GetOptions()))
	if err != nil {
		return err
	}
	// The iterator's Close error ends the scan, after its pages, when it
	// has no error of its own.
	defer kv.CloseInto(it, &err)
	lim := scanLimits{pairs: k.s.opts.Limits.MaxKeys, bytes: k.s.opts.Limits.MaxBytes, want: int(min(req.GetLimit(), 1<<62))}
	resp := &protoqlv1.ScanResponse{}
	size := 0
	for ok := it.First(); ok; ok = it.Next() {
		if stop, truncated := lim.reached(); stop {
			resp.Truncated = truncated
			break
		}
		if len(resp.Pairs) == maxPagePairs || size >= k.pageBytes() {
			if err := stream.Send(resp); err != nil {
				return err
			}
			resp, size = &protoqlv1.ScanResponse{}, 0
		}
		kvp := &protoqlv1.KeyValue{Key: bytes.Clone(it.Key()), Value: bytes.Clone(it.Value())}
		resp.Pairs = append(resp.Pairs, kvp)
		size += len(kvp.Key) + len(kvp.Value) + pairOverhead
		lim.add(len(kvp.Key) + len(kvp.Value))
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if len(resp.Pairs) > 0 || resp.Truncated {
		return stream.Send(resp)
	}
	return nil
}

// scanLimits counts a Scan against the request's limit and the server's.
type scanLimits struct {
	pairs, bytes, want int // zero: unlimited
	n, size            int
}

func (l *scanLimits) add(size int) { l.n++; l.size += size }

// reached reports, before reading one more pair, whether the scan must stop
// and whether that is the server's doing (truncated) or the request's.
func (l *scanLimits) reached() (stop, truncated bool) {
	if l.want > 0 && l.n >= l.want {
		return true, false
	}
	if l.pairs > 0 && l.n >= l.pairs || l.bytes > 0 && l.size >= l.bytes {
		return true, true
	}
	return false, false
}
