package server

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/protoql/protoql/kv"
)

// The KVService never shows or changes protoql's metadata keys: the
// default namespace's keys that start with byte 0x00, [0x00, 0x01), which
// hold the stored schema the ProtoQLService runs on and the secret that
// signs its cursors. A raw write there could make every query fail, and a
// read would hand out the secret. Gets and writes of them are refused with
// PermissionDenied; scans start after them. The metadata of other
// namespaces (runtime.WithNamespace, under 0x02) is ordinary data to the
// KVService, so a remote runtime opens its DB in a namespace of its own.

// errMetadata: a KVService call named a metadata key.
var errMetadata = errors.New("server: the KVService does not read or write protoql's metadata keys (first byte 0x00)")

var (
	metaStart = []byte{0x00}
	metaEnd   = []byte{0x01}
)

func isMetaKey(k []byte) bool { return len(k) > 0 && k[0] == 0x00 }

func refuseMetaKey(k []byte) error {
	if isMetaKey(k) {
		return fmt.Errorf("%w: key %s", errMetadata, kv.KeyText(k))
	}
	return nil
}

// refuseMetaOp refuses a write that touches a metadata key.
func refuseMetaOp(op kv.Op) error {
	if op.Kind != kv.OpDeleteRange {
		return refuseMetaKey(op.Key)
	}
	// [start, end) meets [0x00, 0x01) when start < 0x01 and end > 0x00
	// (an empty end is no bound).
	if bytes.Compare(op.Key, metaEnd) < 0 && (len(op.Value) == 0 || bytes.Compare(op.Value, metaStart) > 0) {
		return fmt.Errorf("%w: range [%s, %s) includes them", errMetadata, kv.KeyText(op.Key), kv.KeyText(op.Value))
	}
	return nil
}

// hideMeta raises scan bounds past the metadata keys. A range that ends
// at or before them comes out empty.
func hideMeta(lo, hi []byte) ([]byte, []byte) {
	if bytes.Compare(lo, metaEnd) < 0 {
		lo = metaEnd
	}
	if len(hi) > 0 && bytes.Compare(hi, lo) < 0 {
		hi = lo
	}
	return lo, hi
}
