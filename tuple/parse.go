package tuple

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// Parse reads a key in the text form that [Format] writes, including a
// trailing "!malformed@OFFSET:HEX", whose OFFSET must be where it starts in
// the key. Spaces around the "/" separators are optional. Errors are
// *[SyntaxError] naming the column.
func Parse(s string) ([]byte, error) {
	p := parser{s: s}
	p.skipSpace()
	for p.i < len(s) {
		if strings.HasPrefix(s[p.i:], malformedMark) {
			if err := p.malformedTail(); err != nil {
				return nil, err
			}
			if p.skipSpace(); p.i < len(s) {
				return nil, p.errorf(p.i, "text after malformed tail")
			}
			break
		}
		if err := p.element(); err != nil {
			return nil, err
		}
		if err := p.separator(); err != nil {
			return nil, err
		}
	}
	return p.key, nil
}

// parser holds the state of one Parse call.
type parser struct {
	s   string
	i   int // next byte of s
	key []byte
}

func (p *parser) errorf(i int, msg string) error { return &SyntaxError{Column: i + 1, Msg: msg} }

func (p *parser) skipSpace() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// separator consumes " / " before another element, or trailing spaces.
func (p *parser) separator() error {
	if p.skipSpace(); p.i == len(p.s) {
		return nil
	}
	if p.s[p.i] != '/' {
		return p.errorf(p.i, `expected "/" or end of key`)
	}
	p.i++
	if p.skipSpace(); p.i == len(p.s) {
		return p.errorf(p.i, `expected element after "/"`)
	}
	return nil
}

// token returns the bytes from p.i to the next space, "/" or end of text.
func (p *parser) token() string {
	j := p.i
	for j < len(p.s) && p.s[j] != ' ' && p.s[j] != '/' {
		j++
	}
	t := p.s[p.i:j]
	p.i = j
	return t
}

// element parses field[:[~]value] and appends its encoding.
func (p *parser) element() error {
	field, err := p.field()
	if err != nil {
		return err
	}
	if p.i == len(p.s) || p.s[p.i] != ':' {
		p.key = AppendUnit(p.key, field)
		return nil
	}
	p.i++
	dir := Asc
	if p.i < len(p.s) && p.s[p.i] == descMark {
		dir = Desc
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '"' {
		return p.stringValue(field, dir)
	}
	return p.value(field, dir)
}

// field parses a field number in [1, MaxField].
func (p *parser) field() (uint32, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == start {
		return 0, p.errorf(start, "expected field number")
	}
	f, err := strconv.ParseUint(p.s[start:p.i], 10, 32)
	if err != nil || f == 0 || f > MaxField {
		return 0, p.errorf(start, "field number "+p.s[start:p.i]+" outside [1, MaxField]")
	}
	return uint32(f), nil
}

// stringValue parses a Go-quoted string and appends it as a string element.
func (p *parser) stringValue(field uint32, dir Direction) error {
	start, j := p.i, p.i+1
	for ; j < len(p.s) && p.s[j] != '"'; j++ {
		if p.s[j] == '\\' {
			j++
		}
	}
	if j >= len(p.s) {
		return p.errorf(start, "unterminated string")
	}
	v, err := strconv.Unquote(p.s[start : j+1])
	if err != nil {
		return p.errorf(start, "invalid string "+p.s[start:j+1])
	}
	p.i = j + 1
	p.key = AppendString(p.key, field, dir, v)
	return nil
}

// value parses a bool, int, uint (suffix u) or bytes (prefix 0x) value.
func (p *parser) value(field uint32, dir Direction) error {
	start := p.i
	t := p.token()
	switch {
	case t == "":
		return p.errorf(start, "expected value")
	case t == "true" || t == "false":
		p.key = AppendBool(p.key, field, dir, t == "true")
	case strings.HasPrefix(t, bytesPrefix):
		v, err := hex.DecodeString(t[len(bytesPrefix):])
		if err != nil {
			return p.errorf(start, "invalid hex bytes "+t)
		}
		p.key = AppendBytes(p.key, field, dir, v)
	case t[len(t)-1] == uintSuffix:
		v, err := strconv.ParseUint(t[:len(t)-1], 10, 64)
		if err != nil {
			return p.errorf(start, "invalid uint "+t)
		}
		p.key = AppendUint(p.key, field, dir, v)
	default:
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return p.errorf(start, "invalid value "+t+": want true, false, an int, a uint with suffix u, a quoted string or 0x-prefixed hex")
		}
		p.key = AppendInt(p.key, field, dir, v)
	}
	return nil
}

// malformedTail parses "!malformed@OFFSET:HEX" and appends the raw bytes.
func (p *parser) malformedTail() error {
	p.i += len(malformedMark)
	numStart := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	off, err := strconv.Atoi(p.s[numStart:p.i])
	if err != nil || off != len(p.key) {
		return p.errorf(numStart, "malformed tail offset must be "+strconv.Itoa(len(p.key)))
	}
	if p.i == len(p.s) || p.s[p.i] != ':' {
		return p.errorf(p.i, `expected ":" after malformed tail offset`)
	}
	p.i++
	hexStart := p.i
	v, err := hex.DecodeString(p.token())
	if err != nil || len(v) == 0 {
		return p.errorf(hexStart, "malformed tail needs non-empty hex bytes")
	}
	p.key = append(p.key, v...)
	return nil
}
