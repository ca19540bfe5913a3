package seal

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// keySize is the length in bytes of an AES-256 key.
const keySize = 32

// keyIDLen is the length of a key id: 8 bytes of a SHA-256 digest in hex.
const keyIDLen = 16

// keyIDDomain separates key-id hashing from any other use of SHA-256 over a key.
const keyIDDomain = "twofold-key-id\x00"

// errBadKey reports text that is not the base64 encoding of exactly 32 bytes.
// It deliberately never includes the text itself, which may be a real key.
var errBadKey = errors.New("not the base64 encoding of exactly 32 bytes")

// Key is one 256-bit encryption key with its id.
//
// Formatting a Key with fmt or logging it with log/slog shows only its id,
// never the key bytes.
type Key struct {
	id string
	k  [keySize]byte
}

// ParseKey decodes a key from base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
func ParseKey(b64 string) (Key, error) {
	s := strings.TrimSpace(b64)
	// Each encoding is strict so that one key has exactly one spelling per
	// alphabet; decoding errors are not wrapped because they describe the input.
	encodings := []*base64.Encoding{
		base64.StdEncoding.Strict(),
		base64.RawStdEncoding.Strict(),
		base64.URLEncoding.Strict(),
		base64.RawURLEncoding.Strict(),
	}
	for _, enc := range encodings {
		if enc.DecodedLen(len(s)) < keySize || len(s) > enc.EncodedLen(keySize) {
			continue
		}
		var buf [keySize + 3]byte
		n, err := enc.Decode(buf[:], []byte(s))
		if err != nil || n != keySize {
			continue
		}
		var k Key
		copy(k.k[:], buf[:keySize])
		clear(buf[:])
		k.id = keyID(&k.k)
		return k, nil
	}
	return Key{}, fmt.Errorf("parsing key: %w", errBadKey)
}

// NewKey generates a key from 32 bytes read from r, which should be crypto/rand.Reader outside tests.
func NewKey(r io.Reader) (Key, error) {
	var k Key
	if _, err := io.ReadFull(r, k.k[:]); err != nil {
		return Key{}, fmt.Errorf("generating key: %w", err)
	}
	if k.k == ([keySize]byte{}) {
		return Key{}, errors.New("generating key: random source returned all zero bytes")
	}
	k.id = keyID(&k.k)
	return k, nil
}

// keyID derives the public id of key bytes k.
func keyID(k *[keySize]byte) string {
	h := sha256.New()
	h.Write([]byte(keyIDDomain))
	h.Write(k[:])
	return hex.EncodeToString(h.Sum(nil)[:keyIDLen/2])
}

// isZero reports whether k is the zero Key, which is not usable for encryption.
func (k Key) isZero() bool { return k.id == "" }

// ID returns the key's public id: 16 lowercase hex characters naming the key in sealed values.
func (k Key) ID() string { return k.id }

// Encode returns the key in standard base64, for writing the key file or printing a new key once.
func (k Key) Encode() string { return base64.StdEncoding.EncodeToString(k.k[:]) }

// String describes the key by its id only, so the key bytes never reach logs via fmt.
func (k Key) String() string { return "seal.Key(" + k.id + ")" }

// GoString describes the key by its id only, so %#v does not print the key bytes.
func (k Key) GoString() string { return k.String() }

// Format prints the key by its id only for every fmt verb, including ones (such as %d or %x)
// that would otherwise print the struct fields.
func (k Key) Format(f fmt.State, verb rune) { io.WriteString(f, k.String()) }

// LogValue makes log/slog record only the key's id.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.id) }
