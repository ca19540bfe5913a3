package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"strconv"
	"time"
)

// Algorithm is the HMAC hash function behind a one-time password.
type Algorithm int

// The hash functions of RFC 6238; SHA1 is the only one every authenticator app supports.
const (
	SHA1 Algorithm = iota
	SHA256
	SHA512
)

// String returns the name used in otpauth URIs: "SHA1", "SHA256" or "SHA512".
func (a Algorithm) String() string {
	switch a {
	case SHA1:
		return "SHA1"
	case SHA256:
		return "SHA256"
	case SHA512:
		return "SHA512"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// newHash returns the hash constructor for a, or nil for an unknown algorithm.
func (a Algorithm) newHash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// Params describe a TOTP generator.
type Params struct {
	Algorithm Algorithm
	Digits    int
	Period    int // seconds
}

// Default is what twofold issues: SHA1, 6 digits, 30 s (what authenticator apps support).
var Default = Params{SHA1, 6, 30}

// maxSkew caps the number of steps Verify looks at on each side of the current one.
const maxSkew = 10

// Validate reports whether p has 6 to 8 digits, a period of at least one second and a known algorithm.
func (p Params) Validate() error {
	switch {
	case p.Algorithm.newHash() == nil:
		return fmt.Errorf("totp: unknown algorithm %v", p.Algorithm)
	case p.Digits < 6 || p.Digits > 8:
		return fmt.Errorf("totp: digits must be 6, 7 or 8, got %d", p.Digits)
	case p.Period < 1:
		return fmt.Errorf("totp: period must be at least 1 second, got %d", p.Period)
	}
	return nil
}

// generator computes RFC 4226 truncated HMAC values, reusing one HMAC and one buffer.
type generator struct {
	mac hash.Hash
	buf []byte // scratch: the 8-byte counter, then the MAC
}

func newGenerator(key []byte, alg Algorithm) generator {
	h := alg.newHash()
	if h == nil {
		panic("totp: unknown algorithm " + alg.String())
	}
	mac := hmac.New(h, key)
	return generator{mac: mac, buf: make([]byte, 0, mac.Size())}
}

// value returns the dynamically truncated 31-bit HMAC of counter (RFC 4226 §5.3).
func (g *generator) value(counter uint64) uint32 {
	g.buf = binary.BigEndian.AppendUint64(g.buf[:0], counter)
	g.mac.Reset()
	g.mac.Write(g.buf)
	g.buf = g.mac.Sum(g.buf[:0])
	off := g.buf[len(g.buf)-1] & 0x0f
	return binary.BigEndian.Uint32(g.buf[off:]) & 0x7fffffff
}

// putDigits writes v mod 10^len(dst) into dst as zero-padded decimal.
func putDigits(dst []byte, v uint32) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = '0' + byte(v%10)
		v /= 10
	}
}

// HOTP returns the RFC 4226 one-time password for counter as a zero-padded decimal of digits digits.
// It panics if digits is outside 1..10 or alg is unknown; Params.Validate guards both.
func HOTP(key []byte, counter uint64, digits int, alg Algorithm) string {
	if digits < 1 || digits > 10 {
		panic("totp: digits out of range: " + strconv.Itoa(digits))
	}
	g := newGenerator(key, alg)
	var out [10]byte
	putDigits(out[:digits], g.value(counter))
	return string(out[:digits])
}

// Step returns the RFC 6238 time step of t, floor(unix seconds / period), negative before 1970.
// It panics if p.Period is zero; periods are expected to be positive.
func Step(t time.Time, p Params) int64 {
	sec, period := t.Unix(), int64(p.Period)
	step := sec / period
	if sec%period < 0 {
		step--
	}
	return step
}

// Code returns the one-time password for time t.
// It panics on parameters that Params.Validate rejects.
func Code(key []byte, t time.Time, p Params) string {
	return HOTP(key, uint64(Step(t, p)), p.Digits, p.Algorithm)
}

// Verify checks code against the steps now-skew..now+skew and returns WHICH step matched,
// so callers can refuse a step already used (RFC 6238 §5.2).
// Every step in the window is computed and compared in constant time, and the latest
// matching step wins. A code that is not exactly p.Digits ASCII digits, or invalid
// params, give ok=false. A skew below 0 counts as 0 and one above 10 as 10.
func Verify(key []byte, code string, t time.Time, skew int, p Params) (step int64, ok bool) {
	if p.Validate() != nil || len(code) != p.Digits {
		return 0, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, false
		}
	}
	skew = min(max(skew, 0), maxSkew)

	g := newGenerator(key, p.Algorithm)
	now := Step(t, p)
	var want [8]byte
	var found int64 // all ones once a step matched
	for i := -skew; i <= skew; i++ {
		s := now + int64(i)
		putDigits(want[:p.Digits], g.value(uint64(s)))
		var diff byte
		for j := 0; j < p.Digits; j++ {
			diff |= want[j] ^ code[j]
		}
		match := -int64(subtle.ConstantTimeByteEq(diff, 0)) // all ones iff equal
		step = s&match | step&^match
		found |= match
	}
	return step, found != 0
}
