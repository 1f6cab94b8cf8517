package kv

import (
	"bytes"
	"fmt"
)

// OpKind says what a batch operation does.
type OpKind uint8

// The operations a Batch records.
const (
	OpSet OpKind = iota + 1
	OpDelete
	OpDeleteRange
)

// String returns the operation's name.
func (k OpKind) String() string {
	switch k {
	case OpSet:
		return "set"
	case OpDelete:
		return "delete"
	case OpDeleteRange:
		return "delete-range"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one recorded batch operation. For OpSet, Key and Value; for
// OpDelete, Key; for OpDeleteRange, Key is the inclusive start and Value the
// exclusive end.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte
}

// Batch records blind writes to apply atomically with [Store.Apply]. It
// copies every key and value into one growing buffer, so callers may reuse
// theirs. The zero value is an empty batch ready to use. A Batch is not safe
// for concurrent use.
type Batch struct {
	ops []Op
	buf []byte
}

// NewBatch returns an empty batch.
func NewBatch() *Batch { return new(Batch) }

// Set records a Set. It returns ErrInvalid for an empty key.
func (b *Batch) Set(key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	b.ops = append(b.ops, Op{Kind: OpSet, Key: b.copy(key), Value: b.copy(value)})
	return nil
}

// Delete records a Delete. It returns ErrInvalid for an empty key.
func (b *Batch) Delete(key []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	b.ops = append(b.ops, Op{Kind: OpDelete, Key: b.copy(key)})
	return nil
}

// DeleteRange records the deletion of [start, end). It returns ErrInvalid
// when start > end; an empty range is recorded and does nothing.
func (b *Batch) DeleteRange(start, end []byte) error {
	if err := CheckRange(start, end); err != nil {
		return err
	}
	b.ops = append(b.ops, Op{Kind: OpDeleteRange, Key: b.copy(start), Value: b.copy(end)})
	return nil
}

// Ops returns the recorded operations in order. The slice and the bytes it
// points to belong to the batch and stay valid until Reset.
func (b *Batch) Ops() []Op { return b.ops }

// Len returns the number of recorded operations.
func (b *Batch) Len() int { return len(b.ops) }

// Size returns the number of key and value bytes recorded.
func (b *Batch) Size() int { return len(b.buf) }

// Reset empties the batch, keeping its memory for reuse.
func (b *Batch) Reset() {
	clear(b.ops)
	b.ops = b.ops[:0]
	b.buf = b.buf[:0]
}

// copy appends p to the batch buffer and returns the copy. Growing the buffer
// may move it, so earlier copies keep pointing at the old array, which stays
// alive through them: no copy is ever invalidated.
func (b *Batch) copy(p []byte) []byte {
	if len(p) == 0 {
		return []byte{}
	}
	if cap(b.buf)-len(b.buf) < len(p) {
		b.buf = make([]byte, 0, max(2*cap(b.buf), len(p), 256))
	}
	n := len(b.buf)
	b.buf = append(b.buf, p...)
	return b.buf[n:len(b.buf):len(b.buf)]
}

// CheckRange returns ErrInvalid unless start <= end. Engines use it to
// validate DeleteRange.
func CheckRange(start, end []byte) error {
	if bytes.Compare(start, end) > 0 {
		return fmt.Errorf("%w: range start %x is after end %x", ErrInvalid, start, end)
	}
	return nil
}
