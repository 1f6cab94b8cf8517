package runtime

import (
	"testing"

	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/schema"
)

// TestDirectEntriesTrimDropsTheCall: a pooled execution keeps no
// reference to its last call (exec.release): the entry plan's uses, kept
// from one entry to the next (decodeEntry), are dropped by trim with the
// rest of the row's state. Their projection pins the whole compiled
// query it was allocated with, their layout its DB's catalog.
func TestDirectEntriesTrimDropsTheCall(t *testing.T) {
	fp := &fieldPlan{fields: []planField{{num: 1}}}
	var d directEntries
	fp.usesOf(&d.uses, &query.Proj{All: true}, &schema.Node{})
	d.trim(maxPooledBuf)
	if u := d.uses; u.fp != nil || u.p != nil || u.node != nil {
		t.Errorf("after trim, the uses hold plan %p, projection %p, layout %p; want none", u.fp, u.p, u.node)
	}
}
