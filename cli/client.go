package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/protoql/protoql/internal/safeproto"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/schema"
)

// schemaInfo is the database's schema as the client sees it: the catalog
// for completion, describe and local query checks, and dynamic types to
// decode results.
type schemaInfo struct {
	set   *descriptorpb.FileDescriptorSet
	files *protoregistry.Files
	types *dynamicpb.Types
	cat   *schema.Catalog
	order keyOrder
}

// runtimeDB opens the runtime on the database's raw keys once, for the
// edits the query service does not offer (ranges, single fields) and for
// dump. With --remote, those are the server's KVService, with the schema
// from GetSchema in place of the metadata keys it does not serve.
func (c *client) runtimeDB(ctx context.Context) (*runtime.DB, error) {
	if c.db == nil {
		store := c.store
		if c.remote {
			var err error
			if store, err = c.schemaOverlay(ctx); err != nil {
				return nil, err
			}
		}
		db, err := runtime.Open(ctx, store)
		if err != nil {
			return nil, err
		}
		c.db = db
	}
	return c.db, nil
}

// errNoSchema is a database that stores no schema: only its raw keys can
// be shown.
var errNoSchema = errors.New("the database stores no schema (a program stores it when it opens the database with its schema); protoql dump shows the raw keys and values")

// schema fetches the stored schema once.
func (c *client) schema(ctx context.Context) (*schemaInfo, error) {
	if c.sch != nil {
		return c.sch, nil
	}
	resp, err := c.pq.GetSchema(ctx, &protoqlv1.GetSchemaRequest{})
	if status.Code(err) == codes.FailedPrecondition {
		return nil, errNoSchema
	}
	if err != nil {
		return nil, err
	}
	si, err := newSchemaInfo(resp.GetSchema())
	if err != nil {
		return nil, err
	}
	c.sch = si
	return si, nil
}

func newSchemaInfo(set *descriptorpb.FileDescriptorSet) (*schemaInfo, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("stored schema: %w", err)
	}
	var all []protoreflect.FileDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		all = append(all, fd)
		return true
	})
	slices.SortFunc(all, func(a, b protoreflect.FileDescriptor) int { return strings.Compare(a.Path(), b.Path()) })
	cat, err := schema.Compile(all...)
	if err != nil {
		return nil, fmt.Errorf("stored schema: %w", err)
	}
	return &schemaInfo{set: set, files: files, types: dynamicpb.NewTypes(files), cat: cat, order: newKeyOrder(cat)}, nil
}

// table finds a table by short or full name.
func (s *schemaInfo) table(name string) (*schema.Table, error) {
	return s.cat.Lookup(name) // its error lists the tables
}

func (s *schemaInfo) tableNames() []string {
	var names []string
	for _, t := range s.cat.Tables {
		names = append(names, string(t.Desc.Name()))
	}
	return names
}

// decode unpacks a result.
func (s *schemaInfo) decode(a *anypb.Any) (protoreflect.Message, error) {
	mt, err := s.types.FindMessageByURL(a.GetTypeUrl())
	if err != nil {
		return nil, fmt.Errorf("result of unknown type %s: %w", a.GetTypeUrl(), err)
	}
	m := mt.New()
	// safeproto: the server's bytes decode into a dynamicpb message, on
	// which protobuf-go panics for some malformed map entries.
	if err := safeproto.Unmarshal(proto.UnmarshalOptions{}, a.GetValue(), m.Interface()); err != nil {
		return nil, fmt.Errorf("result %s does not parse: %w", a.GetTypeUrl(), err)
	}
	return m, nil
}

// row is one query result.
type row struct {
	msg    protoreflect.Message
	cursor string
	maps   map[string]string // cursors of map pages cut short, by path
	// partial marks a row cut short by a limit: the error that follows
	// carries the cursor resuming inside it.
	partial bool
}

// compiled is a query checked locally, with its variables typed.
type compiled struct {
	q    *query.Query
	vars map[string]*protoqlv1.Value
	// lastCursorOnly asks the server to sign only the stream's last
	// cursor (QueryRequest.last_cursor_only), for a caller that reads the
	// whole stream and needs no row's cursor but, at most, the last one.
	// The REPL leaves it off: it stops mid-stream at its page size and
	// keeps every row's cursor (for .next and for the map pages of each
	// row).
	lastCursorOnly bool
}

// compile checks text against the schema locally (for errors with a
// caret, and to type the variables given as text) before the server runs
// it.
func (c *client) compile(ctx context.Context, text string, vars map[string]string) (*compiled, error) {
	si, err := c.schema(ctx)
	if err != nil {
		return nil, err
	}
	q, err := query.Compile(si.cat, text)
	if err != nil {
		return nil, err
	}
	tv, err := typeVars(q.Plan(), vars)
	if err != nil {
		return nil, err
	}
	return &compiled{q: q, vars: tv}, nil
}

// query runs a compiled query on the server.
func (c *client) query(ctx context.Context, cq *compiled) iter.Seq2[row, error] {
	return func(yield func(row, error) bool) {
		si, err := c.schema(ctx)
		if err != nil {
			yield(row{}, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.pq.Query(ctx, &protoqlv1.QueryRequest{Query: cq.q.Text(), Variables: cq.vars, LastCursorOnly: cq.lastCursorOnly})
		if err != nil {
			yield(row{}, err)
			return
		}
		// A row larger than the server's row chunk arrives in pieces, all
		// but the last marked partial: they are merged into one row. A
		// partial piece followed by an error is a row a limit cut short.
		var pending *row
		for {
			resp, err := stream.Recv()
			if err != nil {
				if pending != nil && !yield(*pending, nil) {
					return
				}
				if !errors.Is(err, io.EOF) {
					yield(row{}, err)
				}
				return
			}
			m, err := si.decode(resp.GetMessage())
			if err != nil {
				yield(row{}, err)
				return
			}
			r := row{msg: m, cursor: resp.GetCursor(), maps: resp.GetMapCursors(), partial: resp.GetPartial()}
			if pending != nil {
				runtime.MergeRow(pending.msg.Interface(), m.Interface())
				if len(r.maps) > 0 && pending.maps != nil {
					maps.Copy(pending.maps, r.maps)
				}
				if pending.maps != nil {
					r.maps = pending.maps
				}
				r.msg = pending.msg
			}
			if r.partial {
				pending = &r
				continue
			}
			pending = nil
			if !yield(r, nil) {
				return
			}
		}
	}
}

// explain returns the server's plan of a compiled query.
func (c *client) explain(ctx context.Context, cq *compiled) (string, error) {
	resp, err := c.pq.Explain(ctx, &protoqlv1.ExplainRequest{Query: cq.q.Text(), Variables: cq.vars})
	if err != nil {
		return "", err
	}
	return resp.GetPlan(), nil
}

// put stores a row.
func (c *client) put(ctx context.Context, m protoreflect.Message) error {
	a, err := anypb.New(m.Interface())
	if err != nil {
		return err
	}
	_, err = c.pq.Put(ctx, &protoqlv1.PutRequest{Message: a})
	return err
}

// parseJSON reads a row of table name from protojson (proto or JSON field
// names).
func (s *schemaInfo) parseJSON(name, js string) (protoreflect.Message, error) {
	t, err := s.table(name)
	if err != nil {
		return nil, err
	}
	mt, err := s.types.FindMessageByName(t.Desc.FullName())
	if err != nil {
		return nil, err
	}
	m := mt.New()
	if err := (protojson.UnmarshalOptions{Resolver: s.types}).Unmarshal([]byte(js), m.Interface()); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Desc.Name(), err)
	}
	return m, nil
}
