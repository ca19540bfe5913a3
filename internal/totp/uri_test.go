package totp_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twofold-auth/twofold/internal/totp"
)

func TestURI(t *testing.T) {
	tests := []struct {
		name            string
		issuer, account string
		secret          []byte
		p               totp.Params
		want            string
	}{
		{
			"default params",
			"Example", "alice@google.com", rfcKey1, totp.Default,
			"otpauth://totp/Example:alice@google.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&algorithm=SHA1&digits=6&period=30",
		},
		{
			"space is %20 and secret has no padding",
			"Big Corp", "john doe", []byte("12345678901"), totp.Params{Algorithm: totp.SHA256, Digits: 8, Period: 60},
			"otpauth://totp/Big%20Corp:john%20doe?secret=GEZDGNBVGY3TQOJQGE&issuer=Big%20Corp&algorithm=SHA256&digits=8&period=60",
		},
		{
			"plus, colon and non-ASCII are escaped",
			"A+B: Ops", "bob+tag:x@ü.de", rfcKey1, totp.Params{Algorithm: totp.SHA512, Digits: 7, Period: 15},
			"otpauth://totp/A%2BB%3A%20Ops:bob%2Btag%3Ax@%C3%BC.de?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=A%2BB%3A%20Ops&algorithm=SHA512&digits=7&period=15",
		},
		{
			"empty issuer is left out",
			"", "alice", rfcKey1, totp.Default,
			"otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA1&digits=6&period=30",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := totp.URI(tc.issuer, tc.account, tc.secret, tc.p)
			if got != tc.want {
				t.Errorf("URI:\n got %s\nwant %s", got, tc.want)
			}
			if strings.Contains(got, "+") || strings.Contains(got, "=&") {
				t.Errorf("URI %s contains '+' or base32 padding", got)
			}
			k, err := totp.ParseURI(got)
			if err != nil {
				t.Fatalf("ParseURI(URI(...)): %v", err)
			}
			want := totp.Key{Issuer: tc.issuer, Account: tc.account, Secret: tc.secret, Params: tc.p}
			assertKey(t, k, want)
		})
	}
}

// assertKey compares keys without printing secrets.
func assertKey(t *testing.T, got, want totp.Key) {
	t.Helper()
	if got.Issuer != want.Issuer || got.Account != want.Account || got.Params != want.Params {
		t.Errorf("key = {%q %q %+v}, want {%q %q %+v}",
			got.Issuer, got.Account, got.Params, want.Issuer, want.Account, want.Params)
	}
	if !bytes.Equal(got.Secret, want.Secret) {
		t.Errorf("key secret differs (%d bytes, want %d)", len(got.Secret), len(want.Secret))
	}
}

func TestParseURI(t *testing.T) {
	jbswy := []byte("Hello!\xde\xad\xbe\xef") // JBSWY3DPEHPK3PXP, the Key Uri Format example
	t.Run("accepts third-party forms", func(t *testing.T) {
		tests := []struct {
			uri  string
			want totp.Key
		}{
			{
				"otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
				totp.Key{Issuer: "Example", Account: "alice@google.com", Secret: jbswy, Params: totp.Default},
			},
			{
				"otpauth://totp/alice@google.com?secret=JBSWY3DPEHPK3PXP",
				totp.Key{Account: "alice@google.com", Secret: jbswy, Params: totp.Default},
			},
			{
				"otpauth://totp/alice?issuer=ACME%20Co&secret=jbswy3dpehpk3pxp",
				totp.Key{Issuer: "ACME Co", Account: "alice", Secret: jbswy, Params: totp.Default},
			},
			{
				"otpauth://totp/Big%20Corp:bob?secret=JBSWY3DPEHPK3PXP&issuer=Big+Corp",
				totp.Key{Issuer: "Big Corp", Account: "bob", Secret: jbswy, Params: totp.Default},
			},
			{
				"otpauth://totp/A+B:c+d?secret=JBSWY3DPEHPK3PXP",
				totp.Key{Issuer: "A+B", Account: "c+d", Secret: jbswy, Params: totp.Default},
			},
			{
				"OTPAUTH://TOTP/x?algorithm=sha512&digits=8&period=60&secret=JBSWY3DPEHPK3PXP===&image=https%3A%2F%2Fexample.com%2Fa.png#frag",
				totp.Key{Account: "x", Secret: jbswy, Params: totp.Params{Algorithm: totp.SHA512, Digits: 8, Period: 60}},
			},
			{
				"otpauth://totp/%E6%A0%AA:%C3%BC?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256&digits=7",
				totp.Key{Issuer: "株", Account: "ü", Secret: jbswy, Params: totp.Params{Algorithm: totp.SHA256, Digits: 7, Period: 30}},
			},
		}
		for _, tc := range tests {
			k, err := totp.ParseURI(tc.uri)
			if err != nil {
				t.Errorf("ParseURI(%q): %v", tc.uri, err)
				continue
			}
			assertKey(t, k, tc.want)
		}
	})
	t.Run("rejects malformed URIs", func(t *testing.T) {
		for _, uri := range []string{
			"",
			"otpauth:",
			"http://totp/a?secret=JBSWY3DPEHPK3PXP",
			"otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=1",
			"otpauth://totp",
			"otpauth://totp/?secret=JBSWY3DPEHPK3PXP",
			"otpauth://totp/Example:?secret=JBSWY3DPEHPK3PXP",
			"otpauth://totp/a",
			"otpauth://totp/a?secret=",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PX1",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&secret=JBSWY3DPEHPK3PXP",
			"otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP&issuer=B",
			"otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP&issuer=",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=9",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=six",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=0",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=99999999999999999999999",
			"otpauth://totp/a%zz?secret=JBSWY3DPEHPK3PXP",
			"otpauth://totp/%FF?secret=JBSWY3DPEHPK3PXP",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&issuer=%FF",
			"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&issuer=%zz",
		} {
			if k, err := totp.ParseURI(uri); err == nil {
				t.Errorf("ParseURI(%q) = {%q %q %+v}, nil; want an error", uri, k.Issuer, k.Account, k.Params)
			}
		}
	})
	t.Run("round trips through URI", func(t *testing.T) {
		for _, k := range []totp.Key{
			{Issuer: "twofold", Account: "alice@example.com", Secret: rfcKey1, Params: totp.Default},
			{Issuer: "A B+C:D@E", Account: " x:y+z@w ", Secret: rfcKey256, Params: totp.Params{Algorithm: totp.SHA256, Digits: 8, Period: 60}},
			{Issuer: "Ünïcødé 株式会社", Account: "josé@例え.jp", Secret: rfcKey512, Params: totp.Params{Algorithm: totp.SHA512, Digits: 7, Period: 1}},
			{Issuer: "", Account: "a/b?c#d&e=f%g", Secret: []byte{0}, Params: totp.Default},
		} {
			got, err := totp.ParseURI(totp.URI(k.Issuer, k.Account, k.Secret, k.Params))
			if err != nil {
				t.Errorf("ParseURI(URI(%q, %q)): %v", k.Issuer, k.Account, err)
				continue
			}
			assertKey(t, got, k)
		}
	})
}
