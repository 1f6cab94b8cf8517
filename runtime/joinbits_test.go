package runtime_test

import (
	"context"
	"math"
	"testing"

	"github.com/protoql/protoql/internal/querytest"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
	"github.com/protoql/protoql/runtime/protoqlimpl"
)

// TestJoinCopiesBitExact joins one target row into several holders: every
// copy must hold the stored values bit for bit. (proto.Clone of a
// generated message drops -0.0 from proto3 float fields, which the copies
// after the first once went through.)
func TestJoinCopiesBitExact(t *testing.T) {
	ctx := context.Background()
	db, err := runtime.Open(ctx, memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_places_proto))
	check(t, err)
	negZero, nan := math.Copysign(0, -1), math.Float64frombits(0x7ff8_0000_dead_beef)
	querytest.Put(t, db,
		&testpb.Place{PlaceId: "x", Lat: negZero, Alt: float32(negZero)},
		&testpb.Place{PlaceId: "y", Lat: nan},
		&testpb.Board{BoardId: "b", Pins: map[string]*testpb.Pin{
			"p1": {PlaceId: "x"}, "p2": {PlaceId: "x"}, "p3": {PlaceId: "x"},
			"q1": {PlaceId: "y"}, "q2": {PlaceId: "y"},
		}},
	)
	q := query.MustCompile(db.Catalog(), `Board["b"] { pins { place { lat, alt } } }`)
	n := 0
	for row, err := range protoqlimpl.QueryAs[*testpb.Board](ctx, db, q, nil) {
		check(t, err)
		n++
		for id, pin := range row.Msg.Pins {
			want := negZero
			if id[0] == 'q' {
				want = nan
			}
			if got := pin.GetPlace().GetLat(); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("pins[%q].place.lat = %#x, want %#x", id, math.Float64bits(got), math.Float64bits(want))
			}
			if id[0] == 'p' && !math.Signbit(float64(pin.GetPlace().GetAlt())) {
				t.Errorf("pins[%q].place.alt lost its sign: %v", id, pin.GetPlace().GetAlt())
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}
