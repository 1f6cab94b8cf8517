package pebblekv

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// FuzzWALTail reads arbitrary bytes as the newest WAL: the check never
// panics, and a tail it reports lies inside the file.
func FuzzWALTail(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Add([]byte("\x00\x00\x00\x00\x05\x00\x01hello"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := vfs.NewMem()
		file, err := fs.Create("000001.log", vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := file.Write(data); err != nil {
			t.Fatal(err)
		}
		_ = file.Close()
		tail, err := damagedTail(fs, "000001.log", 1)
		if err != nil {
			t.Fatalf("damagedTail: %v", err)
		}
		if tail != nil && (tail.offset < 0 || tail.offset >= int64(len(data)) || tail.dropped != int64(len(data))-tail.offset) {
			t.Errorf("tail %+v of a %d-byte file", tail, len(data))
		}
	})
}
