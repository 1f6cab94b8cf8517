package tuple

import (
	"encoding/hex"
	"strconv"
)

// Text form separators and markers; see the package doc.
const (
	sepText       = " / "
	descMark      = '~'
	uintSuffix    = 'u'
	bytesPrefix   = "0x"
	malformedMark = "!malformed@"
)

// Format renders key in the text form of the package doc. It never fails:
// when the elements from some offset on do not decode, it renders the ones
// before and then "!malformed@OFFSET:HEX", where OFFSET is where the bad
// element starts and HEX is the rest of the key. [Parse] reads both back.
func Format(key []byte) string {
	var out []byte
	for off := 0; off < len(key); {
		if off > 0 {
			out = append(out, sepText...)
		}
		e, n, err := decodeElement(key, off)
		if err != nil {
			out = append(out, malformedMark...)
			out = strconv.AppendInt(out, int64(off), 10)
			out = append(out, ':')
			out = hex.AppendEncode(out, key[off:])
			break
		}
		out = e.appendText(out)
		off += n
	}
	return string(out)
}

// String returns the text form of e, as [Format] renders it in a key.
func (e Element) String() string { return string(e.appendText(nil)) }

func (e Element) appendText(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(e.Field), 10)
	if e.Kind == KindUnit {
		return dst
	}
	dst = append(dst, ':')
	if e.Kind.IsDescending() {
		dst = append(dst, descMark)
	}
	switch e.Kind.Ascending() {
	case KindBool:
		return strconv.AppendBool(dst, e.Bool)
	case KindInt:
		return strconv.AppendInt(dst, e.Int, 10)
	case KindUint:
		return append(strconv.AppendUint(dst, e.Uint, 10), uintSuffix)
	case KindString:
		return strconv.AppendQuote(dst, string(e.Bytes))
	case KindBytes:
		return hex.AppendEncode(append(dst, bytesPrefix...), e.Bytes)
	}
	return append(dst, '?')
}
