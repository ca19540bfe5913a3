package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twofold-auth/twofold/internal/seal"
)

// b64urlAlphabet is the alphabet of sealed value bodies.
const b64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestSealOpen(t *testing.T) {
	key := detKey(t, 1)
	ring := seal.NewRing(key)
	secret := []byte("JBSWY3DPEHPK3PXP1234") // 20-byte TOTP-like secret
	ad := []byte("totp:42")

	t.Run("RoundTrip", func(t *testing.T) {
		for _, pt := range [][]byte{secret, {}, nil, bytes.Repeat([]byte{0xff}, 4096)} {
			sealed, err := ring.Seal(pt, ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			got, err := ring.Open(sealed, ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, pt) {
				t.Errorf("Open returned a different plaintext (len got %d, want %d)", len(got), len(pt))
			}
		}
	})

	t.Run("FormatIsVersionKeyIDBody", func(t *testing.T) {
		sealed, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		parts := strings.Split(sealed, ".")
		if len(parts) != 3 {
			t.Fatalf("sealed value has %d dot-separated parts, want 3", len(parts))
		}
		if parts[0] != "v1" {
			t.Errorf("version = %q, want %q", parts[0], "v1")
		}
		if parts[1] != key.ID() {
			t.Errorf("key id = %q, want %q", parts[1], key.ID())
		}
		body, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatalf("body is not unpadded base64url: %v", err)
		}
		if got, want := len(body), 12+len(secret)+16; got != want {
			t.Errorf("decoded body length = %d, want %d (nonce + ciphertext + tag)", got, want)
		}
		if bytes.Contains([]byte(sealed), secret) || bytes.Contains(body, secret) {
			t.Errorf("sealed value contains the plaintext")
		}
		id, err := seal.KeyID(sealed)
		if err != nil || id != key.ID() {
			t.Errorf("KeyID = %q, %v; want %q, nil", id, err, key.ID())
		}
	})

	t.Run("SealsDiffer", func(t *testing.T) {
		a, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		b, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if a == b {
			t.Errorf("two seals of the same plaintext are identical")
		}
		if a[:20] != b[:20] {
			t.Errorf("two seals under the same key have different headers")
		}
		if a[20:36] == b[20:36] {
			t.Errorf("two seals share a nonce")
		}
	})

	t.Run("WrongADRejected", func(t *testing.T) {
		sealed, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		for _, other := range [][]byte{[]byte("totp:43"), []byte("totp:4"), []byte("totp:420"), nil, []byte("TOTP:42")} {
			if _, err := ring.Open(sealed, other); !errors.Is(err, seal.ErrCorrupt) {
				t.Errorf("Open with ad %q: err = %v, want ErrCorrupt", other, err)
			}
		}
	})

	t.Run("EmptyADDistinctFromNil", func(t *testing.T) {
		sealed, err := ring.Seal(secret, nil)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if _, err := ring.Open(sealed, []byte{}); err != nil {
			t.Errorf("Open with empty ad of a value sealed with nil ad: %v, want success", err)
		}
	})

	t.Run("TamperedByteRejected", func(t *testing.T) {
		// Lengths 19 and 21 leave spare bits in the last base64 character, which must not be malleable.
		for _, pt := range [][]byte{secret[:19], secret, append(secret, 'x')} {
			sealed, err := ring.Seal(pt, ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			for i := range len(sealed) {
				for _, c := range []byte(b64urlAlphabet + ".!=\n\r \x00\xff") {
					if c == sealed[i] {
						continue
					}
					tampered := sealed[:i] + string([]byte{c}) + sealed[i+1:]
					if err := openErr(ring, tampered, ad); err != "" {
						t.Fatalf("%d-byte plaintext, byte %d (%s) replaced: %s", len(pt), i, region(i, len(sealed)), err)
					}
				}
			}
		}
	})

	t.Run("TamperedBitInBodyRejected", func(t *testing.T) {
		sealed, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		body, err := base64.RawURLEncoding.DecodeString(sealed[20:])
		if err != nil {
			t.Fatalf("decoding body: %v", err)
		}
		for i := range len(body) * 8 {
			flipped := bytes.Clone(body)
			flipped[i/8] ^= 1 << (i % 8)
			tampered := sealed[:20] + base64.RawURLEncoding.EncodeToString(flipped)
			if _, err := ring.Open(tampered, ad); !errors.Is(err, seal.ErrCorrupt) {
				t.Fatalf("bit %d of the decoded body flipped: err = %v, want ErrCorrupt", i, err)
			}
		}
	})

	t.Run("TruncatedOrExtendedRejected", func(t *testing.T) {
		sealed, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		for n := range len(sealed) {
			if err := openErr(ring, sealed[:n], ad); err != "" {
				t.Fatalf("truncated to %d bytes: %s", n, err)
			}
		}
		for _, suffix := range []string{"A", "AA", "AAAA", "=", "==", "\n", ".", "\x00"} {
			if err := openErr(ring, sealed+suffix, ad); err != "" {
				t.Errorf("suffix %q appended: %s", suffix, err)
			}
		}
		if err := openErr(ring, " "+sealed, ad); err != "" {
			t.Errorf("space prepended: %s", err)
		}
	})

	t.Run("VersionIsAuthenticated", func(t *testing.T) {
		sealed, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		for _, v := range []string{"v2", "V1", "v0", "1v"} {
			if _, err := ring.Open(v+sealed[2:], ad); !errors.Is(err, seal.ErrCorrupt) {
				t.Errorf("version %q: err = %v, want ErrCorrupt", v, err)
			}
		}
	})

	t.Run("KeyIDIsAuthenticated", func(t *testing.T) {
		// A value moved under another key id in the same ring must not open,
		// even though that key exists.
		other := detKey(t, 2)
		both := seal.NewRing(key, other)
		sealed, err := both.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		moved := "v1." + other.ID() + sealed[2+1+16:]
		if _, err := both.Open(moved, ad); !errors.Is(err, seal.ErrCorrupt) {
			t.Errorf("value relabelled with another ring key's id: err = %v, want ErrCorrupt", err)
		}
	})
}

// openErr returns "" when Open of a tampered value fails as it should, or a description of what went wrong.
// It never includes plaintext.
func openErr(ring *seal.Ring, sealed string, ad []byte) (problem string) {
	defer func() {
		if p := recover(); p != nil {
			problem = "Open panicked"
		}
	}()
	pt, err := ring.Open(sealed, ad)
	switch {
	case err == nil:
		return "Open succeeded, want ErrCorrupt or ErrUnknownKey"
	case pt != nil:
		return "Open returned plaintext along with an error"
	case !errors.Is(err, seal.ErrCorrupt) && !errors.Is(err, seal.ErrUnknownKey):
		return "err = " + err.Error() + ", want ErrCorrupt or ErrUnknownKey"
	}
	return ""
}

// region names the part of a sealed value byte i falls in.
func region(i, n int) string {
	switch {
	case i < 2:
		return "version"
	case i == 2 || i == 19:
		return "separator"
	case i < 19:
		return "key id"
	case i < 20+16:
		return "nonce"
	case i >= n-22:
		return "tag"
	default:
		return "ciphertext"
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := detKey(t, 10), detKey(t, 20)
	secret := []byte("rotate-me-1234567890")
	ad := []byte("totp:7")
	sealedOld, err := seal.NewRing(oldKey).Seal(secret, ad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}

	t.Run("OldKeyOpensAsSecondary", func(t *testing.T) {
		ring := seal.NewRing(newKey, oldKey)
		got, err := ring.Open(sealedOld, ad)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, secret) {
			t.Errorf("Open returned a different plaintext")
		}
		id, err := seal.KeyID(sealedOld)
		if err != nil {
			t.Fatalf("KeyID: %v", err)
		}
		if id != oldKey.ID() || id == ring.Primary().ID() {
			t.Errorf("KeyID = %s, want old key %s (primary %s)", id, oldKey.ID(), ring.Primary().ID())
		}
	})

	t.Run("ReSealUsesPrimary", func(t *testing.T) {
		ring := seal.NewRing(newKey, oldKey)
		if ring.Primary().ID() != newKey.ID() {
			t.Fatalf("Primary().ID() = %s, want %s", ring.Primary().ID(), newKey.ID())
		}
		resealed, err := ring.Seal(secret, ad)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if id, _ := seal.KeyID(resealed); id != newKey.ID() {
			t.Errorf("KeyID(resealed) = %s, want primary %s", id, newKey.ID())
		}
		if _, err := seal.NewRing(newKey).Open(resealed, ad); err != nil {
			t.Errorf("Open of re-sealed value with the new key only: %v", err)
		}
	})

	t.Run("UnknownKeyWithoutOldKey", func(t *testing.T) {
		_, err := seal.NewRing(newKey).Open(sealedOld, ad)
		if !errors.Is(err, seal.ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
		if errors.Is(err, seal.ErrCorrupt) {
			t.Errorf("err = %v, want not ErrCorrupt", err)
		}
		if !strings.Contains(err.Error(), oldKey.ID()) {
			t.Errorf("err = %v, want it to mention key id %s", err, oldKey.ID())
		}
	})

	t.Run("DuplicateAndZeroKeysIgnored", func(t *testing.T) {
		ring := seal.NewRing(newKey, seal.Key{}, oldKey, newKey, oldKey)
		if _, err := ring.Open(sealedOld, ad); err != nil {
			t.Errorf("Open: %v", err)
		}
	})
}

func TestZeroKeyRefused(t *testing.T) {
	ring := seal.NewRing(seal.Key{})
	if _, err := ring.Seal([]byte("x"), nil); err == nil {
		t.Errorf("Seal with the zero Key as primary succeeded, want error")
	}
}

func TestKeyIDRejectsMalformed(t *testing.T) {
	for _, s := range []string{"", "v1", "v1.", "v1.0123456789abcdef", "v2.0123456789abcdef.AAAA", "v1.0123456789ABCDEF.AAAA", "v1.0123456789abcde.AAAA", "v1.0123456789abcdef.AA=A"} {
		if _, err := seal.KeyID(s); !errors.Is(err, seal.ErrCorrupt) {
			t.Errorf("KeyID(%q): err = %v, want ErrCorrupt", s, err)
		}
	}
}
