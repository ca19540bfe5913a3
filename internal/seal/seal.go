package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// version is the format prefix of every sealed value.
const version = "v1"

// adDomain separates the GCM additional data of sealed values from any other use of these keys.
const adDomain = "twofold-seal\x00"

// nonceSize is the length of the random GCM nonce.
const nonceSize = 12

// headerLen is the length of "v1." + key id + ".".
const headerLen = len(version) + 1 + keyIDLen + 1

// minBodyLen is the shortest possible decoded body: a nonce and a tag around an empty plaintext.
const minBodyLen = nonceSize + 16

var (
	// ErrUnknownKey is returned (wrapped, with the key id) when a sealed value names a key that is not in the ring.
	ErrUnknownKey = errors.New("unknown key")
	// ErrCorrupt is returned (wrapped) when a sealed value is malformed, tampered with, or bound to different associated data.
	ErrCorrupt = errors.New("corrupt sealed value")
)

// ringEntry is one key of a ring with its ready-to-use cipher.
type ringEntry struct {
	key  Key
	aead cipher.AEAD
	err  error
}

// Ring seals with its primary key and opens values sealed under any of its keys.
// A Ring is safe for concurrent use.
type Ring struct {
	primary *ringEntry
	byID    map[string]*ringEntry
}

// NewRing returns a ring that seals with primary and opens values sealed under primary or any of others.
// Zero Keys and repeated keys among others are ignored.
func NewRing(primary Key, others ...Key) *Ring {
	r := &Ring{byID: make(map[string]*ringEntry, 1+len(others))}
	r.primary = newEntry(primary)
	if !primary.isZero() {
		r.byID[primary.id] = r.primary
	}
	for _, k := range others {
		if k.isZero() {
			continue
		}
		if _, dup := r.byID[k.id]; dup {
			continue
		}
		r.byID[k.id] = newEntry(k)
	}
	return r
}

// newEntry prepares the AES-256-GCM cipher for k.
func newEntry(k Key) *ringEntry {
	e := &ringEntry{key: k}
	if k.isZero() {
		e.err = errors.New("key is the zero Key")
		return e
	}
	block, err := aes.NewCipher(k.k[:])
	if err != nil {
		e.err = err
		return e
	}
	e.aead, e.err = cipher.NewGCM(block)
	return e
}

// Primary returns the key the ring seals with.
func (r *Ring) Primary() Key { return r.primary.key }

// additionalData binds a sealed value's version and key id to the caller's associated data.
// The version and key id have fixed lengths, so the encoding is unambiguous.
func additionalData(id string, ad []byte) []byte {
	out := make([]byte, 0, len(adDomain)+len(version)+1+len(id)+1+len(ad))
	out = append(out, adDomain...)
	out = append(out, version...)
	out = append(out, 0)
	out = append(out, id...)
	out = append(out, 0)
	return append(out, ad...)
}

// Seal encrypts plaintext under the primary key; ad (associated data) binds the value to its place (e.g. "totp:<row id>").
//
// The result is "v1." + key id + "." + base64url-no-padding(12-byte random nonce || ciphertext+tag),
// and the version and key id are authenticated together with ad.
func (r *Ring) Seal(plaintext, ad []byte) (string, error) {
	e := r.primary
	if e.err != nil {
		return "", fmt.Errorf("sealing value: %w", e.err)
	}
	id := e.key.id
	body := make([]byte, nonceSize, nonceSize+len(plaintext)+e.aead.Overhead())
	if _, err := rand.Read(body); err != nil {
		return "", fmt.Errorf("sealing value: reading nonce: %w", err)
	}
	body = e.aead.Seal(body, body[:nonceSize], plaintext, additionalData(id, ad))

	out := make([]byte, 0, headerLen+base64.RawURLEncoding.EncodedLen(len(body)))
	out = append(out, version...)
	out = append(out, '.')
	out = append(out, id...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, body)
	return string(out), nil
}

// Open decrypts a value made by Seal with the same ad.
//
// It returns an error wrapping ErrUnknownKey when the value names a key not in the ring, and
// one wrapping ErrCorrupt for any malformed or tampered value or a different ad.
func (r *Ring) Open(sealed string, ad []byte) ([]byte, error) {
	id, body, err := parse(sealed)
	if err != nil {
		return nil, fmt.Errorf("opening sealed value: %w", err)
	}
	e, ok := r.byID[id]
	if !ok {
		return nil, fmt.Errorf("opening sealed value: key %s: %w", id, ErrUnknownKey)
	}
	if e.err != nil {
		return nil, fmt.Errorf("opening sealed value: key %s: %w", id, e.err)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < minBodyLen {
		return nil, fmt.Errorf("opening sealed value: bad body: %w", ErrCorrupt)
	}
	pt, err := e.aead.Open(raw[nonceSize:nonceSize], raw[:nonceSize], raw[nonceSize:], additionalData(id, ad))
	if err != nil {
		return nil, fmt.Errorf("opening sealed value: authentication failed: %w", ErrCorrupt)
	}
	return pt, nil
}

// KeyID returns the id of the key a sealed value names, so rotation can re-seal values whose id is not Primary().ID().
func KeyID(sealed string) (string, error) {
	id, _, err := parse(sealed)
	if err != nil {
		return "", fmt.Errorf("reading key id: %w", err)
	}
	return id, nil
}

// parse splits a sealed value into its key id and base64 body, checking the syntax of both.
func parse(sealed string) (id, body string, err error) {
	if len(sealed) < headerLen || sealed[:len(version)+1] != version+"." || sealed[headerLen-1] != '.' {
		return "", "", fmt.Errorf("bad header: %w", ErrCorrupt)
	}
	id = sealed[len(version)+1 : headerLen-1]
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", "", fmt.Errorf("bad key id: %w", ErrCorrupt)
		}
	}
	body = sealed[headerLen:]
	// The decoder silently skips '\r' and '\n', so check the alphabet first:
	// every sealed value has exactly one accepted spelling.
	for i := 0; i < len(body); i++ {
		c := body[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return "", "", fmt.Errorf("bad body: %w", ErrCorrupt)
		}
	}
	return id, body, nil
}
