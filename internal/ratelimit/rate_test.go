package ratelimit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/ratelimit"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ratelimit.Rate
	}{
		{"0", ratelimit.Rate{}},
		{"5/m", ratelimit.Rate{N: 5, Per: time.Minute}},
		{"100/h", ratelimit.Rate{N: 100, Per: time.Hour}},
		{"10/s", ratelimit.Rate{N: 10, Per: time.Second}},
		{"1/s", ratelimit.Rate{N: 1, Per: time.Second}},
	} {
		t.Run(tc.in+" parses and formats back", func(t *testing.T) {
			got, err := ratelimit.ParseRate(tc.in)
			if err != nil {
				t.Fatalf("ParseRate(%q) error: %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseRate(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.in {
				t.Errorf("String() = %q, want %q", s, tc.in)
			}
		})
	}
	for _, in := range []string{
		"", "5", "5/d", "-1/m", "x/m", "0/m", "00/m", "+5/m", "5/", "/m", "5/m/h", " 5/m", "5/m ", "5 /m", "5/M",
		"1_000/m", "0x10/m", "99999999999999999999/m", "5/min", "off", "00",
	} {
		t.Run(strings.TrimSpace(in)+" is refused naming the form", func(t *testing.T) {
			_, err := ratelimit.ParseRate(in)
			if err == nil {
				t.Fatalf("ParseRate(%q) succeeded, want an error", in)
			}
			if !strings.Contains(err.Error(), "N/m") {
				t.Errorf("ParseRate(%q) error = %q, want one naming the expected form", in, err)
			}
		})
	}
}

func TestRateString(t *testing.T) {
	for _, tc := range []struct {
		r    ratelimit.Rate
		want string
	}{
		{ratelimit.Rate{}, "0"},
		{ratelimit.Rate{N: 0, Per: time.Minute}, "0"},
		{ratelimit.Rate{N: 5, Per: 0}, "0"},
		{ratelimit.Rate{N: 5, Per: time.Minute}, "5/m"},
		{ratelimit.Rate{N: 10, Per: 15 * time.Minute}, "10/15m0s"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestRateOff(t *testing.T) {
	for _, tc := range []struct {
		r    ratelimit.Rate
		want bool
	}{
		{ratelimit.Rate{}, true},
		{ratelimit.Rate{N: -1, Per: time.Minute}, true},
		{ratelimit.Rate{N: 5, Per: -time.Minute}, true},
		{ratelimit.Rate{N: 1, Per: time.Nanosecond}, false},
		{ratelimit.Rate{N: 5, Per: time.Minute}, false},
	} {
		if got := tc.r.Off(); got != tc.want {
			t.Errorf("%+v.Off() = %v, want %v", tc.r, got, tc.want)
		}
	}
}
