package backupcode

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Count is the number of codes in one set given to a user.
const Count = 10

// alphabet is Crockford's base32 alphabet in lowercase.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// codeLen is the number of characters in a canonical code; each carries 5 bits, 50 in all.
const codeLen = 10

// bytesPerCode is how many bytes of randomness one code consumes; the top 50 of their 56 bits are used.
const bytesPerCode = 7

// maxInputLen is the longest input Normalize considers.
const maxInputLen = 64

// maxGenerate bounds n in Generate, far above any real set size.
const maxGenerate = 1000

// hashDomain separates backup-code hashes from any other HMAC under the same key.
const hashDomain = "twofold-backup-code\x00"

// Generate returns n distinct codes, each 10 lowercase Crockford base32 characters (50 random bits from r)
// printed as two groups of 5 joined by '-', such as "k3f9q-2mzx8".
//
// Each code reads 7 bytes from r and uses the top 50 of their 56 bits, most significant first.
// r should be crypto/rand.Reader outside tests.
func Generate(r io.Reader, n int) ([]string, error) {
	if n < 1 || n > maxGenerate {
		return nil, fmt.Errorf("generating backup codes: count %d out of range 1..%d", n, maxGenerate)
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	var buf [bytesPerCode]byte
	// A repeat has probability about n²/2⁵¹ with a real random source; the bound only stops
	// a broken source from looping forever.
	for attempts := 0; len(codes) < n; attempts++ {
		if attempts >= n+10 {
			return nil, errors.New("generating backup codes: random source keeps repeating codes")
		}
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return nil, fmt.Errorf("generating backup codes: %w", err)
		}
		code := encode(buf)
		if seen[code] {
			continue
		}
		seen[code] = true
		codes = append(codes, code)
	}
	clear(buf[:])
	return codes, nil
}

// encode turns the top 50 bits of b into a printed code "xxxxx-xxxxx".
func encode(b [bytesPerCode]byte) string {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	v >>= bytesPerCode*8 - codeLen*5
	var out [codeLen + 1]byte
	for i := codeLen - 1; i >= 0; i-- {
		pos := i
		if i >= codeLen/2 {
			pos++ // skip the dash
		}
		out[pos] = alphabet[v&31]
		v >>= 5
	}
	out[codeLen/2] = '-'
	return string(out[:])
}

// Normalize maps user input to the canonical 10-character lowercase form of a code.
//
// It drops spaces (and other ASCII whitespace), '-' and '_', ignores case, and applies
// Crockford's substitutions o→0, i→1 and l→1. ok is false when the result is not exactly
// 10 alphabet characters or the input is longer than 64 bytes.
func Normalize(input string) (canonical string, ok bool) {
	if len(input) > maxInputLen {
		return "", false
	}
	var out [codeLen]byte
	n := 0
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch c {
		case ' ', '\t', '\n', '\r', '-', '_':
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if !inAlphabet(c) || n == codeLen {
			return "", false
		}
		out[n] = c
		n++
	}
	if n != codeLen {
		return "", false
	}
	return string(out[:]), true
}

// inAlphabet reports whether c is a lowercase Crockford base32 character.
func inAlphabet(c byte) bool {
	switch {
	case '0' <= c && c <= '9':
		return true
	case c < 'a' || c > 'z':
		return false
	}
	return c != 'i' && c != 'l' && c != 'o' && c != 'u'
}

// Hash returns the keyed hash stored instead of a code: lowercase hex HMAC-SHA256(key, "twofold-backup-code\x00" || canonical).
// canonical must come from Normalize so that every way of typing a code hashes the same.
func Hash(key []byte, canonical string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(hashDomain))
	m.Write([]byte(canonical))
	return hex.EncodeToString(m.Sum(nil))
}
