package totp_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/twofold-auth/twofold/internal/totp"
)

// Benchmarks verify a wrong code in a ±1 window: every step is computed, the worst case.
var (
	benchTime  = time.Unix(1111111109, 0)
	benchWrong = "000000"
)

func checkWrong(b *testing.B) {
	if _, ok := totp.Verify(rfcKey1, benchWrong, benchTime, 1, totp.Default); ok {
		b.Fatalf("benchmark code %q is accepted; pick another", benchWrong)
	}
}

func BenchmarkVerify(b *testing.B) {
	checkWrong(b)
	b.ReportAllocs()
	for b.Loop() {
		totp.Verify(rfcKey1, benchWrong, benchTime, 1, totp.Default)
	}
}

func BenchmarkVerifyPquerna(b *testing.B) {
	checkWrong(b)
	secret := totp.EncodeSecret(rfcKey1)
	opts := pqtotp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	if ok, err := pqtotp.ValidateCustom(benchWrong, secret, benchTime, opts); ok || err != nil {
		b.Fatalf("pquerna ValidateCustom = %v, %v; want false, nil", ok, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		pqtotp.ValidateCustom(benchWrong, secret, benchTime, opts)
	}
}

// BenchmarkHMACSHA1Floor keys one HMAC-SHA1 and runs it over three 8-byte counters:
// the least work any ±1 window check can do.
func BenchmarkHMACSHA1Floor(b *testing.B) {
	b.ReportAllocs()
	var msg [8]byte
	sum := make([]byte, 0, sha1.Size)
	for b.Loop() {
		mac := hmac.New(sha1.New, rfcKey1)
		for c := uint64(37037035); c <= 37037037; c++ {
			binary.BigEndian.PutUint64(msg[:], c)
			mac.Reset()
			mac.Write(msg[:])
			sum = mac.Sum(sum[:0])
		}
	}
}
