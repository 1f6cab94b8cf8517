package runtime

import (
	"context"
	"iter"
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/query"
)

// bound returns q for the handles of t to run on: q itself, or, when q is
// a *DB or *Tx over another store than t's DB, a Querier that fails every
// call. t's keys are its own DB's (namespace, table id), and such a call
// would read and write the other store's keys silently. DBs over one store
// (namespaces of one database) may share a transaction: their tables' keys
// lie in that store.
func bound(t *Table, q Querier) Querier {
	if t == nil || t.db == nil {
		return q
	}
	var d *DB
	switch q := q.(type) {
	case *DB:
		d = q
	case *Tx:
		d = q.db
	}
	if d == nil || d == t.db || sameStore(d.store, t.db.store) {
		return q
	}
	return otherDB{invalid("table %s belongs to a DB over another store than the %T it was bound to (In)", t.s.Desc.FullName(), q)}
}

// sameStore reports whether a and b are the same store, without comparing
// values of a type that cannot be compared (which panics).
func sameStore(a, b kv.Store) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta != nil && ta.Comparable() && a == b
}

// otherDB is the Querier of a handle bound to another store's DB or
// transaction (bound): every call fails with err.
type otherDB struct{ err error }

var _ Querier = otherDB{}

func (o otherDB) Get(context.Context, Ref, proto.Message) error           { return o.err }
func (o otherDB) Put(context.Context, Ref, proto.Message) error           { return o.err }
func (o otherDB) Delete(context.Context, Ref) error                       { return o.err }
func (o otherDB) DeleteRange(context.Context, Ref, KeyRange) error        { return o.err }
func (o otherDB) DeleteRows(context.Context, *Table, KeyRange) error      { return o.err }
func (o otherDB) SetValue(context.Context, Ref, protoreflect.Value) error { return o.err }

func (o otherDB) GetValue(context.Context, Ref) (protoreflect.Value, error) {
	return protoreflect.Value{}, o.err
}

func (o otherDB) UpdateInline(context.Context, Ref, func(protoreflect.Message) error) error {
	return o.err
}

func (o otherDB) Scan(context.Context, *Table, KeyRange, ScanOptions) iter.Seq2[proto.Message, error] {
	return failed[proto.Message](o.err)
}

func (o otherDB) ScanMap(context.Context, Ref, KeyRange, ScanOptions) iter.Seq2[MapEntry, error] {
	return failed[MapEntry](o.err)
}

func (o otherDB) Query(context.Context, *query.Query, map[string]any, ...QueryOption) iter.Seq2[Result, error] {
	return failed[Result](o.err)
}

// failed is the sequence that yields err alone.
func failed[V any](err error) iter.Seq2[V, error] {
	return func(yield func(V, error) bool) {
		var zero V
		yield(zero, err)
	}
}
