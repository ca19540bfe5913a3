package totp

import (
	"encoding/base32"
	"errors"
	"fmt"
	"io"
)

// secretSize is the length in bytes of secrets from NewSecret: 160 bits, as RFC 4226 recommends.
const secretSize = 20

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns 20 random bytes (160 bits) read from r (crypto/rand.Reader in production).
func NewSecret(r io.Reader) ([]byte, error) {
	secret := make([]byte, secretSize)
	if _, err := io.ReadFull(r, secret); err != nil {
		return nil, fmt.Errorf("totp: reading random secret: %w", err)
	}
	return secret, nil
}

// EncodeSecret returns secret in uppercase base32 (RFC 4648) without '=' padding.
func EncodeSecret(secret []byte) string {
	return b32.EncodeToString(secret)
}

// DecodeSecret decodes a base32 secret, ignoring case, spaces, '-' and trailing '=' padding.
// Any other character, an impossible length or an empty secret is an error.
func DecodeSecret(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '-':
		case 'a' <= c && c <= 'z':
			clean = append(clean, c-'a'+'A')
		default:
			clean = append(clean, c)
		}
	}
	for len(clean) > 0 && clean[len(clean)-1] == '=' {
		clean = clean[:len(clean)-1]
	}
	if len(clean) == 0 {
		return nil, errors.New("totp: empty secret")
	}
	for _, c := range clean {
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			// The character itself is not quoted: error messages end up in logs.
			return nil, errors.New("totp: invalid character in base32 secret")
		}
	}
	// Unpadded base32 ends in a group of 0, 2, 4, 5 or 7 characters;
	// the decoder silently drops a dangling 1, 3 or 6.
	if r := len(clean) % 8; r == 1 || r == 3 || r == 6 {
		return nil, errors.New("totp: base32 secret has an invalid length")
	}
	secret := make([]byte, b32.DecodedLen(len(clean)))
	n, err := b32.Decode(secret, clean)
	if err != nil {
		return nil, errors.New("totp: invalid base32 secret")
	}
	return secret[:n], nil
}
