package runtimetest

import (
	"context"
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/edgepb"
	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"
)

// edgeModel models the proto2 Legacy table (in its own namespace of the
// same store): rows, objects and map values carrying extensions and unknown
// fields, and strings that are not valid UTF-8, which proto2 stores.
type edgeModel struct {
	t      *testing.T
	m      *model
	store  kv.Store
	db     *runtime.DB
	legacy edgepb.LegacyTable
	// dynamic is the Legacy table of the same namespace opened on its
	// stored schema alone: its rows are dynamicpb messages.
	dynamic *runtime.Table
	rows    map[string]*legacyRow
}

// legacyRow is one Legacy row: its content and whether its own key is
// written (a row that only has map entries exists without it).
type legacyRow struct {
	msg    *edgepb.Legacy
	rowKey bool
}

const edgeNamespace = "edge"

func newEdgeModel(t *testing.T, store kv.Store, m *model) *edgeModel {
	db, err := runtime.Open(context.Background(), store, runtime.WithNamespace(edgeNamespace),
		runtime.WithSchema(edgepb.File_protoql_test_edge_v1_legacy_proto))
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := edgepb.NewLegacyTable(db)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := runtime.Open(context.Background(), store, runtime.WithNamespace(edgeNamespace))
	if err != nil {
		t.Fatalf("open on the stored schema: %v", err)
	}
	dynamic, err := dyn.Table("Legacy")
	if err != nil {
		t.Fatal(err)
	}
	return &edgeModel{t: t, m: m, store: store, db: db, legacy: legacy, dynamic: dynamic, rows: map[string]*legacyRow{}}
}

// legacyStrings (ids, keys and values) are valid and invalid UTF-8 alike:
// proto2 does not require UTF-8.
var legacyStrings = []string{"", "a", "b\xff", "\xff\xfe"}

func (e *edgeModel) row(id string) *legacyRow {
	r := e.rows[id]
	if r == nil {
		r = &legacyRow{msg: &edgepb.Legacy{Id: proto.String(id)}}
		e.rows[id] = r
	}
	return r
}

// randomItem returns an Item with maybe an extension and maybe an unknown
// field, and whether it may be stored.
func (e *edgeModel) randomItem() (*edgepb.Item, bool) {
	it := &edgepb.Item{Label: proto.String(e.m.pick(legacyStrings))}
	if e.m.rng.IntN(2) == 0 {
		proto.SetExtension(it, edgepb.E_ItemNote, e.m.pick(legacyStrings))
	}
	ok := true
	if e.m.rng.IntN(4) == 0 {
		num := []protowire.Number{1, 150, 60}[e.m.rng.IntN(3)] // label (declared), free, free
		it.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), 1))
		ok = num != 1
	}
	return it, ok
}

func (e *edgeModel) step(ctx context.Context) string {
	m := e.m
	id := m.pick(legacyStrings)
	switch m.rng.IntN(5) {
	case 0, 1:
		msg := &edgepb.Legacy{Id: proto.String(id), Name: proto.String(m.pick(legacyStrings))}
		ok := true
		if m.rng.IntN(2) == 0 {
			proto.SetExtension(msg, edgepb.E_ExtInt32, m.rng.Int32N(200)-100)
		}
		if m.rng.IntN(2) == 0 {
			proto.SetExtension(msg, edgepb.E_ExtText, m.pick(legacyStrings))
		}
		if m.rng.IntN(3) == 0 {
			// Inside an inline message an unknown field with a declared
			// number reads back as it was (protobuf keeps a field with the
			// wrong wire type as unknown), so it is stored either way.
			it, _ := e.randomItem()
			proto.SetExtension(msg, edgepb.E_ExtItem, it)
		}
		if m.rng.IntN(2) == 0 {
			it, iok := e.randomItem()
			msg.Items = map[string]*edgepb.Item{m.pick(legacyStrings): it}
			ok = ok && iok
		}
		if m.rng.IntN(4) == 0 {
			num := []protowire.Number{2, 150, 61}[m.rng.IntN(3)] // name (declared), free, free
			msg.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), 7))
			ok = ok && num != 2
		}
		if !m.outcome(e.legacy.Put(ctx, msg), ok) {
			return "legacy: put row (refused)"
		}
		e.rows[id] = &legacyRow{msg: msg, rowKey: true}
		return "legacy: put row"
	case 2:
		m.must(e.legacy.Delete(ctx, id))
		delete(e.rows, id)
		return "legacy: delete row"
	case 3:
		k := m.pick(legacyStrings)
		it, ok := e.randomItem()
		if !m.outcome(e.legacy.Row(id).Items().Put(ctx, k, it), ok) {
			return "legacy: put item (refused)"
		}
		r := e.row(id)
		if r.msg.Items == nil {
			r.msg.Items = map[string]*edgepb.Item{}
		}
		r.msg.Items[k] = it
		return "legacy: put item"
	default:
		v := m.rng.Int32N(9)
		m.must(e.legacy.UpdateInline(ctx, id, func(msg *edgepb.Legacy) error {
			proto.SetExtension(msg, edgepb.E_ExtInt32, v)
			return nil
		}))
		r := e.row(id)
		r.rowKey = true
		proto.SetExtension(r.msg, edgepb.E_ExtInt32, v)
		return "legacy: set extension inline"
	}
}

// verify reads every Legacy row by Get, by Scan, and by Get on a DB opened
// on the stored schema alone (dynamicpb), and compares them with the model.
func (e *edgeModel) verify(ctx context.Context, where string) {
	e.t.Helper()
	var want []*edgepb.Legacy
	for _, id := range legacyStrings {
		r := e.rows[id]
		if r != nil && !r.rowKey && len(r.msg.GetItems()) == 0 {
			r = nil
		}
		got, err := e.legacy.Get(ctx, id)
		switch {
		case r == nil && !errors.Is(err, runtime.ErrNotFound):
			e.t.Errorf("%s: Legacy Get(%q) = %v, %v; want not found", where, id, got, err)
		case r != nil && err != nil:
			e.t.Errorf("%s: Legacy Get(%q): %v", where, id, err)
		case r != nil:
			if diff := cmp.Diff(r.msg, got, protocmp.Transform()); diff != "" {
				e.t.Errorf("%s: Legacy Get(%q) (-want +got):\n%s", where, id, diff)
			}
			want = append(want, r.msg)
			e.sameDynamic(ctx, where, e.dynamic, id, got)
		}
	}
	var got []*edgepb.Legacy
	for msg, err := range e.legacy.Scan(ctx, edgepb.LegacyKeys(), runtime.ScanOptions{}) {
		if err != nil {
			e.t.Errorf("%s: Legacy Scan: %v", where, err)
			return
		}
		got = append(got, msg)
	}
	if len(got) != len(want) {
		e.t.Errorf("%s: Legacy Scan read %d rows, want %d", where, len(got), len(want))
	}
}

// sameDynamic checks that the row reads the same on dynamicpb, with its
// extensions resolved as extensions rather than left as unknown fields.
func (e *edgeModel) sameDynamic(ctx context.Context, where string, t *runtime.Table, id string, linked *edgepb.Legacy) {
	e.t.Helper()
	ref, err := t.Row(protoreflect.ValueOfString(id))
	if err != nil {
		e.t.Fatal(err)
	}
	m := t.DB().NewMessage(t.Schema().Desc)
	if err := t.DB().Get(ctx, ref, m.Interface()); err != nil {
		e.t.Errorf("%s: dynamic Legacy Get(%q): %v", where, id, err)
		return
	}
	want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(linked)
	got, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m.Interface())
	if string(want) != string(got) {
		e.t.Errorf("%s: dynamic Legacy Get(%q) = %v, linked %v", where, id, m, linked)
	}
	if !proto.HasExtension(linked, edgepb.E_ExtInt32) {
		return
	}
	resolved := false
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		resolved = resolved || (fd.IsExtension() && fd.Number() == edgepb.E_ExtInt32.TypeDescriptor().Number())
		return true
	})
	if !resolved {
		e.t.Errorf("%s: dynamic Legacy Get(%q): extension ext_int32 read back unresolved: %v", where, id, m)
	}
}
