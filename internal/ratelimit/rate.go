package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Rate is N events per Per; the zero Rate means unlimited (the setting `0`).
type Rate struct {
	N   int
	Per time.Duration
}

// errRateForm says what ParseRate accepts.
var errRateForm = errors.New("want N/s, N/m or N/h with N a positive integer, or 0 for no limit")

// ParseRate parses "N/s", "N/m", "N/h" (N a positive integer) or "0" (off).
func ParseRate(s string) (Rate, error) {
	if s == "0" {
		return Rate{}, nil
	}
	if len(s) < 3 || s[len(s)-2] != '/' {
		return Rate{}, fmt.Errorf("parsing rate %q: %w", s, errRateForm)
	}
	var per time.Duration
	switch s[len(s)-1] {
	case 's':
		per = time.Second
	case 'm':
		per = time.Minute
	case 'h':
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("parsing rate %q: %w", s, errRateForm)
	}
	digits := s[:len(s)-2]
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return Rate{}, fmt.Errorf("parsing rate %q: %w", s, errRateForm)
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return Rate{}, fmt.Errorf("parsing rate %q: %w: %w", s, errRateForm, err)
	}
	if n <= 0 {
		return Rate{}, fmt.Errorf("parsing rate %q: %w", s, errRateForm)
	}
	return Rate{N: n, Per: per}, nil
}

// String formats r as ParseRate reads it ("5/m", or "0" when off); a Per other than
// a second, a minute or an hour is written as a duration ("10/15m0s").
func (r Rate) String() string {
	if r.Off() {
		return "0"
	}
	unit := r.Per.String()
	switch r.Per {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.Itoa(r.N) + "/" + unit
}

// Off reports whether r imposes no limit: it is the zero Rate, or N or Per is not positive.
func (r Rate) Off() bool {
	return r.N <= 0 || r.Per <= 0
}
