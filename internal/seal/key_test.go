package seal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/twofold-auth/twofold/internal/seal"
)

var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestParseKey(t *testing.T) {
	raw := seqBytes(0xf0, 32) // includes bytes that differ between the std and URL alphabets
	wantID := func() string {
		sum := sha256.Sum256(append([]byte("twofold-key-id\x00"), raw...))
		return hex.EncodeToString(sum[:8])
	}()

	t.Run("AcceptsAllBase64Spellings", func(t *testing.T) {
		encs := map[string]*base64.Encoding{
			"StdPadded": base64.StdEncoding,
			"StdRaw":    base64.RawStdEncoding,
			"URLPadded": base64.URLEncoding,
			"URLRaw":    base64.RawURLEncoding,
		}
		for name, enc := range encs {
			k, err := seal.ParseKey(enc.EncodeToString(raw))
			if err != nil {
				t.Errorf("%s: ParseKey error: %v", name, err)
				continue
			}
			if got := k.ID(); got != wantID {
				t.Errorf("%s: ID() = %s, want %s", name, got, wantID)
			}
		}
	})

	t.Run("IgnoresSurroundingWhitespace", func(t *testing.T) {
		k, err := seal.ParseKey("  " + base64.StdEncoding.EncodeToString(raw) + "\r\n")
		if err != nil {
			t.Fatalf("ParseKey error: %v", err)
		}
		if got := k.ID(); got != wantID {
			t.Errorf("ID() = %s, want %s", got, wantID)
		}
	})

	t.Run("EncodeRoundTrips", func(t *testing.T) {
		k, err := seal.ParseKey(base64.RawURLEncoding.EncodeToString(raw))
		if err != nil {
			t.Fatalf("ParseKey error: %v", err)
		}
		if k.Encode() != base64.StdEncoding.EncodeToString(raw) {
			t.Errorf("Encode() is not the standard base64 of the key bytes")
		}
		k2, err := seal.ParseKey(k.Encode())
		if err != nil {
			t.Fatalf("ParseKey(Encode()) error: %v", err)
		}
		if k2.ID() != k.ID() {
			t.Errorf("ParseKey(Encode()).ID() = %s, want %s", k2.ID(), k.ID())
		}
	})

	bad := map[string]string{
		"Empty":          "",
		"31Bytes":        base64.StdEncoding.EncodeToString(seqBytes(1, 31)),
		"33Bytes":        base64.StdEncoding.EncodeToString(seqBytes(1, 33)),
		"33BytesRaw":     base64.RawStdEncoding.EncodeToString(seqBytes(1, 33)),
		"64Bytes":        base64.StdEncoding.EncodeToString(seqBytes(1, 64)),
		"Garbage":        "this is not a key at all, not even close!!!",
		"InvalidChar":    strings.Repeat("A", 42) + "*=",
		"Hex":            hex.EncodeToString(seqBytes(1, 32)),
		"NonZeroPadBits": base64.StdEncoding.EncodeToString(raw)[:42] + "B=",
		"InnerSpace":     base64.StdEncoding.EncodeToString(raw)[:20] + " " + base64.StdEncoding.EncodeToString(raw)[20:],
	}
	for name, in := range bad {
		t.Run("Rejects"+name, func(t *testing.T) {
			_, err := seal.ParseKey(in)
			if err == nil {
				t.Fatalf("ParseKey succeeded, want error")
			}
			// Never print err here: the point is that it might contain the input.
			if in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("error text contains the input")
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	t.Run("IDIsSixteenLowercaseHex", func(t *testing.T) {
		if id := randKey(t).ID(); !keyIDPattern.MatchString(id) {
			t.Errorf("ID() = %q, want 16 lowercase hex characters", id)
		}
	})

	t.Run("IDIsDerivedFromKeyBytes", func(t *testing.T) {
		raw := seqBytes(7, 32)
		k, err := seal.NewKey(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("NewKey: %v", err)
		}
		sum := sha256.Sum256(append([]byte("twofold-key-id\x00"), raw...))
		if got, want := k.ID(), hex.EncodeToString(sum[:8]); got != want {
			t.Errorf("ID() = %s, want %s", got, want)
		}
		if k.Encode() != base64.StdEncoding.EncodeToString(raw) {
			t.Errorf("Encode() does not encode the bytes read from the reader")
		}
	})

	t.Run("DistinctKeysHaveDistinctIDs", func(t *testing.T) {
		if a, b := randKey(t).ID(), randKey(t).ID(); a == b {
			t.Errorf("two random keys share id %s", a)
		}
	})

	t.Run("ShortReaderFails", func(t *testing.T) {
		if _, err := seal.NewKey(bytes.NewReader(seqBytes(1, 31))); err == nil {
			t.Errorf("NewKey with 31 bytes available succeeded, want error")
		}
	})

	t.Run("ReaderErrorIsWrapped", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := seal.NewKey(errReader{boom})
		if !errors.Is(err, boom) {
			t.Errorf("NewKey error = %v, want one wrapping %v", err, boom)
		}
	})

	t.Run("AllZeroReaderFails", func(t *testing.T) {
		if _, err := seal.NewKey(bytes.NewReader(make([]byte, 32))); err == nil {
			t.Errorf("NewKey from all-zero bytes succeeded, want error")
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestKeyDoesNotLeak(t *testing.T) {
	k := randKey(t)
	secrets := []string{
		k.Encode(),
		base64.RawURLEncoding.EncodeToString(mustDecode(t, k.Encode())),
		hex.EncodeToString(mustDecode(t, k.Encode())),
	}
	// leaks reports whether s contains the key in any common spelling, without printing either.
	leaks := func(s string) bool {
		for _, secret := range secrets {
			if strings.Contains(s, secret) || strings.Contains(strings.ToLower(s), strings.ToLower(secret)) {
				return true
			}
		}
		// Also catch decimal byte dumps such as "[12 200 7 ...]".
		return strings.Contains(s, fmt.Sprint(mustDecode(t, k.Encode())[:8])[1:15])
	}
	want := "seal.Key(" + k.ID() + ")"

	t.Run("FmtShowsOnlyID", func(t *testing.T) {
		pk := &k
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
			for _, arg := range []any{k, pk, []seal.Key{k}, struct{ K seal.Key }{k}, map[string]seal.Key{"k": k}} {
				out := fmt.Sprintf(verb, arg)
				if leaks(out) {
					t.Errorf("fmt.Sprintf(%q, %T) contains the key", verb, arg)
				}
			}
		}
		if got := fmt.Sprintf("%v %+v %#v %s", k, k, k, k); got != strings.Repeat(want+" ", 3)+want {
			t.Errorf("fmt.Sprintf(%%v %%+v %%#v %%s) = %q, want four times %q", got, want)
		}
		if got := k.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if got := k.GoString(); got != want {
			t.Errorf("GoString() = %q, want %q", got, want)
		}
	})

	t.Run("SlogShowsOnlyID", func(t *testing.T) {
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			l := slog.New(h)
			l.Info("key", "key", k, "ptr", &k, slog.Any("any", k), slog.Group("g", "key", k))
		}
		out := buf.String()
		if leaks(out) {
			t.Errorf("slog output contains the key")
		}
		if !strings.Contains(out, k.ID()) {
			t.Errorf("slog output does not contain the key id %s", k.ID())
		}
		if got := k.LogValue(); got.Kind() != slog.KindString || got.String() != k.ID() {
			t.Errorf("LogValue() = %v, want the id %s", got, k.ID())
		}
	})

	t.Run("ErrorsNeverContainKeyFileLines", func(t *testing.T) {
		// A 33-byte "key" shares its first 32 bytes' encoding prefix with a real key.
		_, err := seal.ParseKey(k.Encode() + "AAAA")
		if err == nil {
			t.Fatalf("ParseKey of an over-long key succeeded, want error")
		}
		if leaks(err.Error()) {
			t.Errorf("ParseKey error contains the key")
		}
	})
}

func mustDecode(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("decoding base64: %v", err)
	}
	return b
}
