package totp_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/totp"
)

func FuzzVerify(f *testing.F) {
	f.Add("755224", int64(0), 1)
	f.Add("287082", int64(30), 0)
	f.Add("", int64(59), 1)
	f.Add("12345", int64(59), -1)
	f.Add("1234567", int64(-1), 10)
	f.Add("１２３４５６", int64(1111111109), 100)
	f.Add("12a456", int64(1<<62), 3)
	f.Fuzz(func(t *testing.T, code string, unix int64, skew int) {
		p := totp.Default
		at := time.Unix(unix, 0)
		step, ok := totp.Verify(rfcKey1, code, at, skew, p)

		wellFormed := len(code) == p.Digits
		for i := 0; i < len(code); i++ {
			wellFormed = wellFormed && '0' <= code[i] && code[i] <= '9'
		}
		if ok && !wellFormed {
			t.Fatalf("Verify(%q) = true for a code that is not %d ASCII digits", code, p.Digits)
		}
		if ok {
			if got := totp.HOTP(rfcKey1, uint64(step), p.Digits, p.Algorithm); got != code {
				t.Fatalf("Verify(%q) matched step %d whose code is %q", code, step, got)
			}
			window := int64(min(max(skew, 0), 10))
			if d := step - totp.Step(at, p); d < -window || d > window {
				t.Fatalf("Verify(%q, skew %d) matched step %d, %d steps from now", code, skew, step, d)
			}
		}
		if code == totp.Code(rfcKey1, at, p) && !ok {
			t.Fatalf("Verify(%q) = false for the current code", code)
		}
	})
}

func FuzzParseURI(f *testing.F) {
	f.Add("otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example")
	f.Add("otpauth://totp/Big%20Corp:john%20doe?secret=GEZDGNBVGY3TQOJQGE&issuer=Big%20Corp&algorithm=SHA256&digits=8&period=60")
	f.Add("otpauth://totp/A+B:c%3Ad?secret=gezd-gnbv&issuer=A%2BB&algorithm=sha512&digits=7&period=1")
	f.Add("otpauth://totp/%E6%A0%AA:%C3%BC?secret=JBSWY3DPEHPK3PXP#x")
	f.Add("otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=0")
	f.Add("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&issuer=%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := totp.ParseURI(s)
		if err != nil {
			return
		}
		if err := k.Params.Validate(); err != nil {
			t.Fatalf("ParseURI(%q) returned invalid params: %v", s, err)
		}
		uri := totp.URI(k.Issuer, k.Account, k.Secret, k.Params)
		k2, err := totp.ParseURI(uri)
		if err != nil {
			t.Fatalf("ParseURI(%q) parsed, but its URI %q does not: %v", s, uri, err)
		}
		if k2.Issuer != k.Issuer || k2.Account != k.Account || k2.Params != k.Params {
			t.Fatalf("round trip of %q: got {%q %q %+v}, want {%q %q %+v}",
				s, k2.Issuer, k2.Account, k2.Params, k.Issuer, k.Account, k.Params)
		}
		if !bytes.Equal(k2.Secret, k.Secret) {
			t.Fatalf("round trip of %q changed the secret", s)
		}
	})
}

func FuzzDecodeSecret(f *testing.F) {
	f.Add("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.Add("gezd gnbv-gy3t qojq ge======")
	f.Add("GEZ")
	f.Add("====")
	f.Add("GE=ZD")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		secret, err := totp.DecodeSecret(s)
		if err != nil {
			return
		}
		if len(secret) == 0 {
			t.Fatalf("DecodeSecret(%q) returned an empty secret without error", s)
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '2' <= c && c <= '7' || c == ' ' || c == '-' || c == '=') {
				t.Fatalf("DecodeSecret(%q) accepted byte %q", s, c)
			}
		}
		enc := totp.EncodeSecret(secret)
		again, err := totp.DecodeSecret(enc)
		if err != nil || !bytes.Equal(again, secret) {
			t.Fatalf("DecodeSecret(EncodeSecret(DecodeSecret(%q))) = %x, %v; want %x", s, again, err, secret)
		}
	})
}
