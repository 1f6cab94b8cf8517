package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/protoql/protoql/internal/safeproto"
	"github.com/protoql/protoql/internal/version"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/schema"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FormatVersion is the version of the key and value layout this package
// writes. Open refuses a store written with another version.
const FormatVersion = 1

// Version is the protoql release this runtime belongs to; it is also the
// version of protoc-gen-protoql and of the protoql command built from the
// same module.
const Version = version.Version

// Metadata keys live under byte 0x00 (DESIGN.md §3).
const (
	metaPrefix = 0x00
	// nsPrefix starts a namespace: 0x02, then the namespace as a tuple
	// string element, which is self-terminating, so no namespace's keys are
	// a prefix of another's.
	nsPrefix = 0x02
)

// DB is a protoql database over a kv.Store. It is safe for concurrent use.
type DB struct {
	store kv.Store
	// keys is store's kv.KeySetter, nil if it offers none (DB.setKey).
	keys kv.KeySetter
	// merger is store's kv.KeyMerger when it can merge (CanMerge at
	// Open), nil otherwise (DB.updateInlineField).
	merger kv.KeyMerger
	cat    *schema.Catalog
	ns     []byte
	tables map[uint32]*Table
	types  sync.Map // protoreflect.FullName → protoreflect.MessageType
	plans  sync.Map // *schema.Node → *inlinePlan (encode.go)
	ext    extTypes // the schema's extensions, collected on first use (extensions.go)
	// cursorSecret signs query cursors (cursor.go); set by Open, then
	// read-only.
	cursorSecret []byte
	obs          *observer   // telemetry (observe.go)
	ix           indexStates // index states (index_state.go)
}

type options struct {
	files          []protoreflect.FileDescriptor
	namespace      *string
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

// Option configures Open.
type Option func(*options)

// WithSchema opens the DB with the tables of these files (and their
// imports), usually the File_… descriptors of generated .pb.go packages, so
// that results are of the linked Go types. Without it, Open uses the schema
// stored in the DB and returns dynamicpb messages.
func WithSchema(files ...protoreflect.FileDescriptor) Option {
	return func(o *options) { o.files = append(o.files, files...) }
}

// WithNamespace keeps every key of the DB under its own prefix, so many
// tenants can share one store. Each namespace has its own stored schema.
func WithNamespace(name string) Option {
	return func(o *options) { o.namespace = &name }
}

// Open opens a DB on store. It compares the given schema with the one stored
// in the DB, refusing incompatible changes before writing anything, and
// stores the given schema when it is new or compatibly extended. The DB does
// not own store: Close it yourself after the last use of the DB.
func Open(ctx context.Context, store kv.Store, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	obs, err := newObserver(&o)
	if err != nil {
		return nil, err
	}
	db := &DB{store: store, tables: map[uint32]*Table{}, obs: obs}
	db.keys, _ = store.(kv.KeySetter)
	if km, ok := store.(kv.KeyMerger); ok && km.CanMerge() {
		db.merger = km
	}
	if o.namespace != nil {
		db.ns = namespacePrefix(*o.namespace)
	}
	if err := db.loadSchema(ctx, o.files); err != nil {
		return nil, err
	}
	if err := db.loadCursorKey(ctx); err != nil {
		return nil, err
	}
	if err := db.loadIndexStates(ctx); err != nil { // index_state.go
		return nil, err
	}
	for _, t := range db.cat.Tables {
		db.tables[t.ID] = newTable(db, t)
	}
	return db, nil
}

func (db *DB) metaKey(name string) []byte {
	k := append(bytes.Clone(db.ns), metaPrefix)
	return append(k, name...)
}

// loadSchema reconciles the given files with the stored schema.
func (db *DB) loadSchema(ctx context.Context, files []protoreflect.FileDescriptor) error {
	stored, storedRaw, err := db.storedCatalog(ctx)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		if stored == nil {
			return invalid("no schema given (WithSchema) and none stored in the DB")
		}
		db.cat = stored
		return nil
	}
	cat, err := schema.Compile(files...)
	if err != nil {
		return err
	}
	if stored != nil {
		if err := schema.CheckCompatible(stored, cat); err != nil {
			return fmt.Errorf("runtime: the schema given to Open is incompatible with the one stored in the DB:\n%w", err)
		}
	}
	db.cat = cat
	if err := db.evolveIndexes(ctx, stored, cat); err != nil { // index_state.go
		return err
	}
	return db.storeCatalog(ctx, cat, storedRaw)
}

// storedCatalog returns the stored schema and its raw bytes (nil, nil when
// none is stored).
func (db *DB) storedCatalog(ctx context.Context) (*schema.Catalog, []byte, error) {
	version, err := db.store.Get(ctx, db.metaKey("format"))
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	case string(version) != fmt.Sprint(FormatVersion):
		return nil, nil, fmt.Errorf("%w: the DB has layout format %q; this build reads format %d", ErrCorrupt, version, FormatVersion)
	}
	raw, err := db.store.Get(ctx, db.metaKey("schema"))
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: reading the stored schema: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := safeproto.Unmarshal(proto.UnmarshalOptions{}, raw, &set); err != nil {
		return nil, nil, fmt.Errorf("%w: stored schema does not parse: %v", ErrCorrupt, err)
	}
	cat, err := schema.FromFileDescriptorSet(&set)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: stored schema: %w", err)
	}
	return cat, raw, nil
}

// storeCatalog stores cat unless the DB already holds exactly these bytes,
// so that an unchanged schema costs no write at Open.
func (db *DB) storeCatalog(ctx context.Context, cat *schema.Catalog, storedRaw []byte) error {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(cat.FileDescriptorSet())
	if err != nil {
		return err
	}
	if storedRaw != nil && bytes.Equal(raw, storedRaw) {
		return nil
	}
	b := kv.NewBatch()
	if err := b.Set(db.metaKey("format"), fmt.Append(nil, FormatVersion)); err != nil {
		return err
	}
	if err := b.Set(db.metaKey("schema"), raw); err != nil {
		return err
	}
	return db.store.Apply(ctx, b)
}

// Catalog returns the schema the DB runs on.
func (db *DB) Catalog() *schema.Catalog { return db.cat }

// Store returns the underlying store.
func (db *DB) Store() kv.Store { return db.store }

// Namespace returns the key prefix of the DB's namespace (empty without one).
func (db *DB) Namespace() []byte { return db.ns }

// Table returns the table named name (full or short message name).
func (db *DB) Table(name string) (*Table, error) {
	t, err := db.cat.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return db.tables[t.ID], nil
}

// TableByID returns the table with this id, or nil.
func (db *DB) TableByID(id uint32) *Table { return db.tables[id] }

// NewMessage returns an empty message of md's type: the linked Go type when
// the DB was opened with linked descriptors, dynamicpb otherwise.
func (db *DB) NewMessage(md protoreflect.MessageDescriptor) protoreflect.Message {
	if mt, ok := db.types.Load(md.FullName()); ok {
		return mt.(protoreflect.MessageType).New()
	}
	var mt protoreflect.MessageType = dynamicpb.NewMessageType(md)
	if linked, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && linked.Descriptor() == md {
		mt = linked
	}
	db.types.Store(md.FullName(), mt)
	return mt.New()
}
