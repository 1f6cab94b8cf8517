package tuple

import (
	"errors"
	"strconv"
)

// ErrMalformed is matched (with [errors.Is]) by every error that decoding
// returns for bytes that are not a canonical encoding.
var ErrMalformed = errors.New("tuple: malformed key")

// ErrSyntax is matched (with [errors.Is]) by every error [Parse] returns.
var ErrSyntax = errors.New("tuple: syntax error")

// DecodeError describes bytes that are not a canonical encoding.
//
// Offset indexes the input given to the decoding function: the first byte
// of the tag or payload that is wrong or truncated, or, in a string or bytes
// payload, the byte after a 0x00 escape that is neither 0xFF nor 0x00.
type DecodeError struct {
	Offset int
	Msg    string
}

func (e *DecodeError) Error() string {
	return "tuple: offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Is reports whether target is [ErrMalformed].
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

func malformed(off int, msg string) error { return &DecodeError{Offset: off, Msg: msg} }

// SyntaxError describes text that [Parse] cannot read. Column counts bytes
// from 1.
type SyntaxError struct {
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "tuple: column " + strconv.Itoa(e.Column) + ": " + e.Msg
}

// Is reports whether target is [ErrSyntax].
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }
