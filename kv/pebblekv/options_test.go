package pebblekv

import "testing"

// Pebble carves the active and the recycled memtable out of the block
// cache: defaults that do not leave room for blocks make every read miss.
func TestDefaultsLeaveRoomForBlocks(t *testing.T) {
	o := DefaultOptions()
	if blocks := o.CacheSize - 2*int64(o.MemTableSize); blocks < o.CacheSize/2 {
		t.Errorf("default cache %d with memtables of %d leaves %d bytes for blocks", o.CacheSize, o.MemTableSize, blocks)
	}
}
