package server

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoql/protoql/internal/safeproto"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

// protoqlService implements protoqlv1.ProtoQLServiceServer on the stored
// schema.
type protoqlService struct {
	protoqlv1.UnimplementedProtoQLServiceServer
	s *Server
}

func (p *protoqlService) Query(req *protoqlv1.QueryRequest, stream grpc.ServerStreamingServer[protoqlv1.QueryResponse]) error {
	ctx := stream.Context()
	db, err := p.s.dbs.get(ctx)
	if err != nil {
		return err
	}
	q, err := p.s.compile(db, req.GetQuery())
	if err != nil {
		return err
	}
	vars, err := variables(req.GetVariables())
	if err != nil {
		return err
	}
	limits := runtime.WithLimits(p.limits(req.GetLimits()))
	table := db.TableByID(q.Plan().Table.ID)
	// A piece of a row marked partial is held until the next result says
	// whether more of the row followed: when a piece ends exactly where the
	// row does, the runtime marks it partial and finds nothing left, and
	// the client must not merge the next row into it. With
	// last_cursor_only, every response is held so, until it is known
	// whether it is the last, which alone gets its cursor signed.
	lastOnly := req.GetLastCursorOnly()
	var held *protoqlv1.QueryResponse
	var heldRes runtime.Result
	var heldKey []byte
	// send sends the held response, with its cursor when it is the last.
	send := func(last bool) error {
		if last && lastOnly {
			held.Cursor = heldRes.Cursor()
		}
		err := stream.Send(held)
		held, heldKey = nil, nil
		return err
	}
	for res, err := range db.Query(ctx, q, vars, limits, runtime.WithRowChunk(p.s.rowChunk())) {
		if err != nil {
			if held != nil {
				// A piece a limit cut short stays partial.
				if serr := send(true); serr != nil {
					return serr
				}
			}
			return err
		}
		msg, err := anypb.New(res.Msg)
		if err != nil {
			return err
		}
		resp := &protoqlv1.QueryResponse{Message: msg, MapCursors: res.MapCursors, Partial: res.Partial}
		if !lastOnly {
			resp.Cursor = res.Cursor()
		}
		var key []byte
		if (held != nil && held.Partial) || res.Partial {
			ref, err := table.RowOf(res.Msg)
			if err != nil {
				return err
			}
			key = ref.Key()
		}
		if held != nil {
			if held.Partial {
				held.Partial = bytes.Equal(key, heldKey)
			}
			if err := send(false); err != nil {
				return err
			}
		}
		if res.Partial || lastOnly {
			held, heldRes, heldKey = resp, res, key
			continue
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	if held != nil {
		held.Partial = false
		return send(true)
	}
	return nil
}

// rowChunk is the size of the pieces a large row is sent in (see
// QueryResponse.partial): a call holds one piece in memory, not the row,
// and no row is too large for a message.
func (s *Server) rowChunk() int { return max(1<<10, min(maxPageBytes, s.opts.MaxMessageSize/2)) }

// compile compiles a client's query within the server's query limits.
func (s *Server) compile(db *runtime.DB, text string) (*query.Query, error) {
	return query.Compile(db.Catalog(), text, query.WithLimits(s.opts.Limits.Limits))
}

// limits returns the server's limits, lowered by the request's.
func (p *protoqlService) limits(req *protoqlv1.Limits) query.Limits {
	l := p.s.opts.Limits
	return query.Limits{
		MaxRows:  lower(l.MaxRows, req.GetMaxRows()),
		MaxKeys:  lower(l.MaxKeys, req.GetMaxKeys()),
		MaxBytes: lower(l.MaxBytes, req.GetMaxBytes()),
	}
}

// lower returns the smaller of two limits, where zero means unlimited.
func lower(server int, req uint64) int {
	if req == 0 || req > 1<<62 {
		return server
	}
	if server == 0 || int(req) < server {
		return int(req)
	}
	return server
}

func (p *protoqlService) Explain(ctx context.Context, req *protoqlv1.ExplainRequest) (*protoqlv1.ExplainResponse, error) {
	db, err := p.s.dbs.get(ctx)
	if err != nil {
		return nil, err
	}
	q, err := p.s.compile(db, req.GetQuery())
	if err != nil {
		return nil, err
	}
	if len(req.GetVariables()) == 0 {
		return &protoqlv1.ExplainResponse{Plan: q.Explain()}, nil
	}
	vars, err := variables(req.GetVariables())
	if err != nil {
		return nil, err
	}
	b, err := q.Bind(vars)
	if err != nil {
		return nil, err
	}
	return &protoqlv1.ExplainResponse{Plan: b.Explain()}, nil
}

func (p *protoqlService) GetSchema(ctx context.Context, _ *protoqlv1.GetSchemaRequest) (*protoqlv1.GetSchemaResponse, error) {
	db, err := p.s.dbs.get(ctx)
	if err != nil {
		return nil, err
	}
	return &protoqlv1.GetSchemaResponse{Schema: db.Catalog().FileDescriptorSet()}, nil
}

func (p *protoqlService) Put(ctx context.Context, req *protoqlv1.PutRequest) (*protoqlv1.PutResponse, error) {
	db, err := p.s.dbs.get(ctx)
	if err != nil {
		return nil, err
	}
	t, m, err := tableMessage(db, req.GetMessage())
	if err != nil {
		return nil, err
	}
	ref, err := t.RowOf(m)
	if err != nil {
		return nil, err
	}
	if err := db.Put(ctx, ref, m); err != nil {
		return nil, err
	}
	return &protoqlv1.PutResponse{}, nil
}

func (p *protoqlService) Delete(ctx context.Context, req *protoqlv1.DeleteRequest) (*protoqlv1.DeleteResponse, error) {
	db, err := p.s.dbs.get(ctx)
	if err != nil {
		return nil, err
	}
	var ref runtime.Ref
	switch row := req.GetRow().(type) {
	case *protoqlv1.DeleteRequest_Message:
		t, m, err := tableMessage(db, row.Message)
		if err != nil {
			return nil, err
		}
		ref, err = t.RowOf(m)
		if err != nil {
			return nil, err
		}
	case *protoqlv1.DeleteRequest_Key:
		ref, err = rowRef(p.s, db, row.Key)
		if err != nil {
			return nil, err
		}
	default:
		return nil, badRequest("delete needs a message or a key")
	}
	if err := db.Delete(ctx, ref); err != nil {
		return nil, err
	}
	return &protoqlv1.DeleteResponse{}, nil
}

// tableMessage decodes a message of one of db's tables from an Any.
func tableMessage(db *runtime.DB, a *anypb.Any) (*runtime.Table, proto.Message, error) {
	if a == nil {
		return nil, nil, badRequest("no message")
	}
	name := a.MessageName()
	t, err := db.Table(string(name))
	if err != nil || t.Schema().Desc.FullName() != name {
		return nil, nil, badRequest("%q is not a table's message type; the tables are %s", name, tableNames(db))
	}
	m := db.NewMessage(t.Schema().Desc).Interface()
	// safeproto: protobuf-go's reflective decoding of m (a dynamicpb
	// message) panics on some malformed map entries.
	if err := safeproto.Unmarshal(proto.UnmarshalOptions{}, a.GetValue(), m); err != nil {
		return nil, nil, badRequest("%s does not parse: %v", name, err)
	}
	return t, m, nil
}

func tableNames(db *runtime.DB) string {
	var names []string
	for _, t := range db.Catalog().Tables {
		names = append(names, string(t.Name()))
	}
	return strings.Join(names, ", ")
}

// rowRef resolves a row written in query syntax, such as `User["alice"]`
// or `Inbox["bob", FOLDER_INBOX, 5]`: a table and a literal for every key
// column, nothing else. Errors are *query.Error values positioned in text.
func rowRef(s *Server, db *runtime.DB, text string) (runtime.Ref, error) {
	q, err := s.compile(db, text)
	if err != nil {
		return runtime.Ref{}, err
	}
	ast, plan := q.AST(), q.Plan()
	root := ast.Root
	switch {
	case len(plan.Vars) > 0:
		return runtime.Ref{}, query.Errorf(plan.Vars[0].Pos, query.ErrInvalid, "a row key takes literals, not variables")
	case root.Args != nil:
		return runtime.Ref{}, query.Errorf(root.Args.Pos, query.ErrInvalid, "a row key takes no arguments")
	case root.Sub != nil:
		return runtime.Ref{}, query.Errorf(root.Sub.Pos, query.ErrInvalid, "a row key selects no fields")
	case !plan.Root.Exact() || plan.Root.Ranged:
		pos := root.Pos
		if root.Keys != nil {
			pos = root.Keys.Pos
		}
		return runtime.Ref{}, query.Errorf(pos, query.ErrInvalid, "a row key needs one value for each key column of %s (%s)", plan.Table.Desc.Name(), columns(plan))
	}
	b, err := q.Bind(nil)
	if err != nil {
		return runtime.Ref{}, err
	}
	vals := make([]protoreflect.Value, len(plan.Root.Points))
	for i, op := range plan.Root.Points {
		vals[i] = b.Value(op)
	}
	t := db.TableByID(plan.Table.ID)
	if t == nil {
		return runtime.Ref{}, fmt.Errorf("%w: no table %d", runtime.ErrInvalid, plan.Table.ID)
	}
	return t.Row(vals...)
}

func columns(p *query.Plan) string {
	var names []string
	for _, c := range p.Root.Cols {
		names = append(names, c.Name())
	}
	return strings.Join(names, ", ")
}
