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

// bound returns q for the handles of t to run on: q itself; when q is a
// *DB or *Tx over another store than t's DB, a Querier that fails every
// call, as t's keys are its own DB's (namespace, table id) and such a call
// would read and write the other store's keys silently; and when q is
// another DB over t's store (another namespace of one database), t's own
// DB, or q's transaction on t's DB: those DBs may share a transaction, as
// their tables' keys lie in that store, but a query runs on the namespace
// and tables of the DB it is given (exec), and t's are its own DB's.
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
	switch {
	case d == nil || d == t.db:
		return q
	case !sameStore(d.store, t.db.store):
		return otherDB{invalid("table %s belongs to a DB over another store than the %T it was bound to (In)", t.s.Desc.FullName(), q)}
	}
	if tx, ok := q.(*Tx); ok {
		return &Tx{db: t.db, r: tx.r, txn: tx.txn}
	}
	return t.db
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
