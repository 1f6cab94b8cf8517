package kv

// NotFoundError is the error of a Get of a missing key: it wraps
// ErrNotFound and names the key. Engines return it from Get. A Get that
// misses is routine (index maintenance and existence checks ask for keys
// that are usually absent), so the message is built only when Error is
// called: making the error costs one copy of the key, not a formatted
// string.
type NotFoundError struct {
	// Op says who looked, such as "pebblekv: get".
	Op string
	// Key is a copy of the key that was not found.
	Key []byte
}

// NotFound returns the NotFoundError of op's Get of key, keeping a copy of
// key (the caller may reuse its buffer).
func NotFound(op string, key []byte) error {
	if len(key) <= len(notFound{}.buf) {
		// The error and its copy of the key in one allocation.
		nf := &notFound{}
		nf.err = NotFoundError{Op: op, Key: nf.buf[:copy(nf.buf[:], key):len(key)]}
		return &nf.err
	}
	return &NotFoundError{Op: op, Key: append([]byte(nil), key...)}
}

// notFound is a NotFoundError with room for a short key beside it.
type notFound struct {
	err NotFoundError
	buf [64]byte
}

// Error renders the key with KeyText: "pebblekv: get 0a01: kv: not found".
func (e *NotFoundError) Error() string {
	return e.Op + " " + KeyText(e.Key) + ": " + ErrNotFound.Error()
}

// Unwrap returns ErrNotFound, so that errors.Is(err, ErrNotFound) holds.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }
