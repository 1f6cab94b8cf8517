package schema

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrInvalid is wrapped by every schema rejection; test with errors.Is.
var ErrInvalid = errors.New("schema: invalid")

// ErrIncompatible is wrapped by every refusal of a schema change that would
// misread stored data.
var ErrIncompatible = errors.New("schema: incompatible change")

// Error is one rejected element: where it is, which element, and what is
// allowed instead.
type Error struct {
	// Pos is "file.proto:line:col", or just "file.proto" when the descriptor
	// carries no source info (descriptors embedded in .pb.go files do not).
	Pos string
	// Element is the full name of the rejected message or field.
	Element protoreflect.FullName
	// Msg says what is wrong and what is allowed.
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("schema: %s: %s: %s", e.Pos, e.Element, e.Msg)
}

// Unwrap makes every Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// errorf builds an Error positioned at d.
func errorf(d protoreflect.Descriptor, format string, args ...any) *Error {
	return &Error{Pos: position(d), Element: d.FullName(), Msg: fmt.Sprintf(format, args...)}
}

// position renders d's source location as file:line:col (1-based).
func position(d protoreflect.Descriptor) string {
	file := d.ParentFile()
	if file == nil {
		return "?"
	}
	loc := file.SourceLocations().ByDescriptor(d)
	if loc.Path == nil && loc.StartLine == 0 && loc.StartColumn == 0 {
		return file.Path()
	}
	return fmt.Sprintf("%s:%d:%d", file.Path(), loc.StartLine+1, loc.StartColumn+1)
}
