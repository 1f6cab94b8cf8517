package kv

import (
	"encoding/hex"
	"strconv"
)

// maxKeyText is how many bytes of a key KeyText shows.
const maxKeyText = 64

// KeyText renders key in hex for an error message, cut after its first 64
// bytes (saying how long it is), so that a message does not grow with the
// key a client sent.
func KeyText(key []byte) string {
	if len(key) <= maxKeyText {
		return hex.EncodeToString(key)
	}
	return hex.EncodeToString(key[:maxKeyText]) + "… (" + strconv.Itoa(len(key)) + " bytes)"
}
