package totp_test

import (
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/totp"
)

// RFC test keys: RFC 4226 Appendix D and RFC 6238 Appendix B (seed, seed32, seed64).
var (
	rfcKey1   = []byte("12345678901234567890")
	rfcKey256 = []byte("12345678901234567890123456789012")
	rfcKey512 = []byte("1234567890123456789012345678901234567890123456789012345678901234")
)

func TestHOTPRFC4226Vectors(t *testing.T) {
	want := []string{
		"755224", "287082", "359152", "969429", "338314",
		"254676", "287922", "162583", "399871", "520489",
	}
	for counter, w := range want {
		if got := totp.HOTP(rfcKey1, uint64(counter), 6, totp.SHA1); got != w {
			t.Errorf("HOTP(counter=%d) = %q, want %q", counter, got, w)
		}
	}
}

func TestTOTPRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix int64
		alg  totp.Algorithm
		want string
	}{
		{59, totp.SHA1, "94287082"},
		{59, totp.SHA256, "46119246"},
		{59, totp.SHA512, "90693936"},
		{1111111109, totp.SHA1, "07081804"},
		{1111111109, totp.SHA256, "68084774"},
		{1111111109, totp.SHA512, "25091201"},
		{1111111111, totp.SHA1, "14050471"},
		{1111111111, totp.SHA256, "67062674"},
		{1111111111, totp.SHA512, "99943326"},
		{1234567890, totp.SHA1, "89005924"},
		{1234567890, totp.SHA256, "91819424"},
		{1234567890, totp.SHA512, "93441116"},
		{2000000000, totp.SHA1, "69279037"},
		{2000000000, totp.SHA256, "90698825"},
		{2000000000, totp.SHA512, "38618901"},
		{20000000000, totp.SHA1, "65353130"},
		{20000000000, totp.SHA256, "77737706"},
		{20000000000, totp.SHA512, "47863826"},
	}
	keys := map[totp.Algorithm][]byte{totp.SHA1: rfcKey1, totp.SHA256: rfcKey256, totp.SHA512: rfcKey512}
	for _, tc := range tests {
		p := totp.Params{Algorithm: tc.alg, Digits: 8, Period: 30}
		if got := totp.Code(keys[tc.alg], time.Unix(tc.unix, 0).UTC(), p); got != tc.want {
			t.Errorf("Code(%s, T=%d) = %q, want %q", tc.alg, tc.unix, got, tc.want)
		}
	}
}

func TestAlgorithmString(t *testing.T) {
	for a, want := range map[totp.Algorithm]string{
		totp.SHA1: "SHA1", totp.SHA256: "SHA256", totp.SHA512: "SHA512", 7: "Algorithm(7)",
	} {
		if got := a.String(); got != want {
			t.Errorf("Algorithm(%d).String() = %q, want %q", int(a), got, want)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	t.Run("accepts default and 6 to 8 digits with every algorithm", func(t *testing.T) {
		for _, alg := range []totp.Algorithm{totp.SHA1, totp.SHA256, totp.SHA512} {
			for digits := 6; digits <= 8; digits++ {
				p := totp.Params{Algorithm: alg, Digits: digits, Period: 1}
				if err := p.Validate(); err != nil {
					t.Errorf("%+v.Validate() = %v, want nil", p, err)
				}
			}
		}
		if err := totp.Default.Validate(); err != nil {
			t.Errorf("Default.Validate() = %v, want nil", err)
		}
	})
	t.Run("rejects out of range values", func(t *testing.T) {
		for _, p := range []totp.Params{
			{totp.SHA1, 5, 30}, {totp.SHA1, 9, 30}, {totp.SHA1, 0, 30},
			{totp.SHA1, 6, 0}, {totp.SHA1, 6, -30},
			{totp.Algorithm(3), 6, 30}, {totp.Algorithm(-1), 6, 30},
		} {
			if err := p.Validate(); err == nil {
				t.Errorf("%+v.Validate() = nil, want an error", p)
			}
		}
	})
	t.Run("default is SHA1, 6 digits, 30 seconds", func(t *testing.T) {
		want := totp.Params{Algorithm: totp.SHA1, Digits: 6, Period: 30}
		if totp.Default != want {
			t.Errorf("Default = %+v, want %+v", totp.Default, want)
		}
	})
}

func TestStep(t *testing.T) {
	tests := []struct {
		unix   int64
		nsec   int64
		period int
		want   int64
	}{
		{0, 0, 30, 0},
		{29, 999999999, 30, 0},
		{30, 0, 30, 1},
		{59, 0, 30, 1},
		{1111111109, 0, 30, 37037036},
		{-1, 0, 30, -1},
		{-1, 500000000, 30, -1},
		{-30, 0, 30, -1},
		{-31, 0, 30, -2},
		{-60, 0, 60, -1},
		{7, 0, 1, 7},
		{-7, 0, 1, -7},
	}
	for _, tc := range tests {
		p := totp.Params{Algorithm: totp.SHA1, Digits: 6, Period: tc.period}
		if got := totp.Step(time.Unix(tc.unix, tc.nsec), p); got != tc.want {
			t.Errorf("Step(%d.%09ds, period %d) = %d, want %d", tc.unix, tc.nsec, tc.period, got, tc.want)
		}
	}
}

func TestCodeBeforeEpoch(t *testing.T) {
	// Step -1 is the counter 2^64-1; HOTP must agree with Code for it.
	at := time.Unix(-1, 0)
	if got, want := totp.Code(rfcKey1, at, totp.Default), totp.HOTP(rfcKey1, 1<<64-1, 6, totp.SHA1); got != want {
		t.Errorf("Code(T=-1) = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	p := totp.Default
	now := time.Unix(1111111109, 0)
	step := totp.Step(now, p)
	codeAt := func(s int64) string { return totp.HOTP(rfcKey1, uint64(s), p.Digits, p.Algorithm) }

	t.Run("accepts current, previous and next step with skew 1", func(t *testing.T) {
		for _, d := range []int64{-1, 0, 1} {
			got, ok := totp.Verify(rfcKey1, codeAt(step+d), now, 1, p)
			if !ok || got != step+d {
				t.Errorf("Verify(code of step%+d) = (%d, %v), want (%d, true)", d, got, ok, step+d)
			}
		}
	})
	t.Run("refuses two steps away with skew 1", func(t *testing.T) {
		for _, d := range []int64{-2, 2} {
			if got, ok := totp.Verify(rfcKey1, codeAt(step+d), now, 1, p); ok {
				t.Errorf("Verify(code of step%+d) = (%d, true), want false", d, got)
			}
		}
	})
	t.Run("skew 0 accepts only the current step", func(t *testing.T) {
		if got, ok := totp.Verify(rfcKey1, codeAt(step), now, 0, p); !ok || got != step {
			t.Errorf("Verify(current) = (%d, %v), want (%d, true)", got, ok, step)
		}
		for _, d := range []int64{-1, 1} {
			if _, ok := totp.Verify(rfcKey1, codeAt(step+d), now, 0, p); ok {
				t.Errorf("Verify(code of step%+d, skew 0) = true, want false", d)
			}
		}
	})
	t.Run("negative skew counts as 0", func(t *testing.T) {
		if _, ok := totp.Verify(rfcKey1, codeAt(step), now, -3, p); !ok {
			t.Errorf("Verify(current, skew -3) = false, want true")
		}
		if _, ok := totp.Verify(rfcKey1, codeAt(step+1), now, -3, p); ok {
			t.Errorf("Verify(next, skew -3) = true, want false")
		}
	})
	t.Run("skew is capped at 10", func(t *testing.T) {
		if got, ok := totp.Verify(rfcKey1, codeAt(step-10), now, 1000, p); !ok || got != step-10 {
			t.Errorf("Verify(step-10, skew 1000) = (%d, %v), want (%d, true)", got, ok, step-10)
		}
		if _, ok := totp.Verify(rfcKey1, codeAt(step+11), now, 1000, p); ok {
			t.Errorf("Verify(step+11, skew 1000) = true, want false")
		}
	})
	t.Run("returns the latest of several matching steps", func(t *testing.T) {
		// With the RFC key, steps 37079356 and 37079357 share the code 186519.
		const first, second, code = 37079356, 37079357, "186519"
		if codeAt(first) != code || codeAt(second) != code {
			t.Fatalf("codes of steps %d, %d = %q, %q, want both %q", first, second, codeAt(first), codeAt(second), code)
		}
		for _, s := range []int64{first, second} {
			at := time.Unix(s*int64(p.Period), 0)
			if got, ok := totp.Verify(rfcKey1, code, at, 1, p); !ok || got != second {
				t.Errorf("Verify at step %d = (%d, %v), want (%d, true)", s, got, ok, second)
			}
		}
	})
	t.Run("refuses malformed codes", func(t *testing.T) {
		good := codeAt(step)
		for _, code := range []string{
			"",
			good[:5],
			good + "0",
			"0" + good,
			good[:5] + "a",
			" " + good[1:],
			good[:5] + "\x00",
			"-" + good[1:],
			"+" + good[1:],
			"１２３４５６",       // fullwidth digits
			"١٢٣٤٥٦",       // Arabic-Indic digits
			good[:4] + "٦", // a non-ASCII digit making the byte length right
		} {
			if _, ok := totp.Verify(rfcKey1, code, now, 1, p); ok {
				t.Errorf("Verify(%q) = true, want false", code)
			}
		}
	})
	t.Run("refuses a correct code under invalid params", func(t *testing.T) {
		bad := totp.Params{Algorithm: totp.SHA1, Digits: 6, Period: 0}
		if _, ok := totp.Verify(rfcKey1, codeAt(step), now, 1, bad); ok {
			t.Errorf("Verify with period 0 = true, want false")
		}
	})
	t.Run("8 digits with SHA512 and a 60 second period", func(t *testing.T) {
		p := totp.Params{Algorithm: totp.SHA512, Digits: 8, Period: 60}
		code := totp.Code(rfcKey512, now, p)
		if got, ok := totp.Verify(rfcKey512, code, now, 1, p); !ok || got != totp.Step(now, p) {
			t.Errorf("Verify = (%d, %v), want (%d, true)", got, ok, totp.Step(now, p))
		}
	})
}
