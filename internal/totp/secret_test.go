package totp_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/twofold-auth/twofold/internal/totp"
)

func TestNewSecret(t *testing.T) {
	t.Run("reads 20 bytes", func(t *testing.T) {
		src := bytes.NewReader(bytes.Repeat([]byte{0xAB}, 64))
		secret, err := totp.NewSecret(src)
		if err != nil {
			t.Fatalf("NewSecret: %v", err)
		}
		if len(secret) != 20 {
			t.Errorf("len(secret) = %d, want 20", len(secret))
		}
		if src.Len() != 64-20 {
			t.Errorf("bytes consumed = %d, want 20", 64-src.Len())
		}
	})
	t.Run("differs between calls with crypto/rand", func(t *testing.T) {
		a, errA := totp.NewSecret(rand.Reader)
		b, errB := totp.NewSecret(rand.Reader)
		if errA != nil || errB != nil {
			t.Fatalf("NewSecret: %v, %v", errA, errB)
		}
		if bytes.Equal(a, b) {
			t.Errorf("two secrets from crypto/rand are equal")
		}
	})
	t.Run("fails on a short reader", func(t *testing.T) {
		if _, err := totp.NewSecret(bytes.NewReader(make([]byte, 19))); err == nil {
			t.Errorf("NewSecret(19 bytes) error = nil, want one")
		}
	})
	t.Run("wraps the reader's error", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := totp.NewSecret(iotest.ErrReader(boom)); !errors.Is(err, boom) {
			t.Errorf("NewSecret error = %v, want one wrapping %v", err, boom)
		}
	})
}

func TestEncodeSecret(t *testing.T) {
	tests := []struct {
		secret []byte
		want   string
	}{
		{[]byte("12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"},
		{[]byte("12345678901"), "GEZDGNBVGY3TQOJQGE"}, // "GE======" when padded
		{[]byte("Hello!\xde\xad\xbe\xef"), "JBSWY3DPEHPK3PXP"},
		{nil, ""},
	}
	for _, tc := range tests {
		if got := totp.EncodeSecret(tc.secret); got != tc.want {
			t.Errorf("EncodeSecret(%q) = %q, want %q", tc.secret, got, tc.want)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	t.Run("accepts case, spaces, dashes and trailing padding", func(t *testing.T) {
		want := []byte("12345678901")
		for _, s := range []string{
			"GEZDGNBVGY3TQOJQGE",
			"GEZDGNBVGY3TQOJQGE======",
			"gezdgnbvgy3tqojqge",
			"gezd gnbv gy3t qojq ge",
			"GEZD-GNBV-GY3T-QOJQ-GE",
			" GEZDGNBVGY3TQOJQGE== ",
			"GEZDGNBVGY3TQOJQGE=",
		} {
			got, err := totp.DecodeSecret(s)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("DecodeSecret(%q) = %q, %v; want %q, nil", s, got, err, want)
			}
		}
	})
	t.Run("rejects empty and foreign characters", func(t *testing.T) {
		for _, s := range []string{
			"", " ", "-", "====", " = ",
			"GEZDGNBVGY3TQOJQGE1",   // 1 is not base32
			"GEZDGNBVGY3TQOJQGE8",   // nor 8
			"GEZDGNBVGY=3TQOJQGE",   // padding in the middle
			"GEZDGNBV\nGY3TQOJQGE",  // newline
			"GEZDGNBV\tGY3TQOJQGE",  // tab
			"GEZDGNBVGY3TQOJQGÉ",    // non-ASCII
			"GEZDGNBVGY3TQOJQGE_",   // underscore
			"G",                     // impossible length
			"GEZ",                   // impossible length
			"GEZDGN",                // impossible length
			"GEZDGNBVGY3TQOJQGEZ==", // impossible length, padded
		} {
			if got, err := totp.DecodeSecret(s); err == nil {
				t.Errorf("DecodeSecret(%q) = %q, nil; want an error", s, got)
			}
		}
	})
	t.Run("round trips EncodeSecret", func(t *testing.T) {
		for n := 1; n <= 64; n++ {
			secret := []byte(strings.Repeat("x", n))
			got, err := totp.DecodeSecret(totp.EncodeSecret(secret))
			if err != nil || !bytes.Equal(got, secret) {
				t.Errorf("DecodeSecret(EncodeSecret(%d bytes)) = %d bytes, %v; want the input", n, len(got), err)
			}
		}
	})
}
