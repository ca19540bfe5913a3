package totp

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Key is what an otpauth URI carries.
type Key struct {
	Issuer, Account string
	Secret          []byte
	Params          Params
}

// URI builds the Key Uri Format URI
// otpauth://totp/ISSUER:ACCOUNT?secret=BASE32NOPAD&issuer=ISSUER&algorithm=SHA1&digits=6&period=30.
// Issuer and account are percent-encoded separately (a space becomes %20, never '+'),
// keeping only the ':' between them literal; an empty issuer is left out entirely.
func URI(issuer, account string, secret []byte, p Params) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(escape(issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(account))
	b.WriteString("?secret=")
	b.WriteString(EncodeSecret(secret))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer))
	}
	b.WriteString("&algorithm=")
	b.WriteString(p.Algorithm.String())
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(p.Digits))
	b.WriteString("&period=")
	b.WriteString(strconv.Itoa(p.Period))
	return b.String()
}

// escape percent-encodes every byte of s but the RFC 3986 unreserved
// characters and '@', which is legal in a URI path and query and which the
// Key Uri Format's own example leaves as is (alice@google.com).
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '@' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// ParseURI parses an otpauth://totp/ URI: label "issuer:account" or "account", a required
// secret, optional algorithm, digits and period (defaulting to Default), and an optional
// issuer parameter that must equal the label's issuer when both are present.
// Only a literal ':' separates issuer from account, and '+' in the label is a plus sign.
func ParseURI(s string) (Key, error) {
	rest, ok := cutPrefixFold(s, "otpauth://")
	if !ok {
		return Key{}, errors.New("totp: uri scheme is not otpauth")
	}
	rest, _, _ = strings.Cut(rest, "#")
	typ, rest, _ := strings.Cut(rest, "/")
	if !strings.EqualFold(typ, "totp") {
		return Key{}, fmt.Errorf("totp: uri type is %q, want totp", typ)
	}
	label, query, _ := strings.Cut(rest, "?")

	var k Key
	rawIssuer, rawAccount, hasIssuer := strings.Cut(label, ":")
	if !hasIssuer {
		rawIssuer, rawAccount = "", rawIssuer
	}
	var err error
	if k.Issuer, err = unescape(rawIssuer, "issuer"); err != nil {
		return Key{}, err
	}
	if k.Account, err = unescape(rawAccount, "account"); err != nil {
		return Key{}, err
	}
	if k.Account == "" {
		return Key{}, errors.New("totp: uri has no account name")
	}

	values, err := url.ParseQuery(query)
	if err != nil {
		return Key{}, fmt.Errorf("totp: uri query: %w", err)
	}
	get := func(name string) (string, bool, error) {
		v, ok := values[name]
		if len(v) > 1 {
			return "", false, fmt.Errorf("totp: uri has more than one %s parameter", name)
		}
		if !ok {
			return "", false, nil
		}
		return v[0], true, nil
	}

	secret, ok, err := get("secret")
	if err != nil {
		return Key{}, err
	}
	if !ok {
		return Key{}, errors.New("totp: uri has no secret")
	}
	if k.Secret, err = DecodeSecret(secret); err != nil {
		return Key{}, err
	}

	issuer, ok, err := get("issuer")
	if err != nil {
		return Key{}, err
	}
	switch {
	case ok && !utf8.ValidString(issuer):
		return Key{}, errors.New("totp: uri issuer parameter is not valid UTF-8")
	case ok && hasIssuer && issuer != k.Issuer:
		return Key{}, fmt.Errorf("totp: uri issuer parameter %q differs from label issuer %q", issuer, k.Issuer)
	case ok:
		k.Issuer = issuer
	}

	k.Params = Default
	if v, ok, err := get("algorithm"); err != nil {
		return Key{}, err
	} else if ok {
		if k.Params.Algorithm, err = parseAlgorithm(v); err != nil {
			return Key{}, err
		}
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"digits", &k.Params.Digits}, {"period", &k.Params.Period}} {
		v, ok, err := get(f.name)
		if err != nil {
			return Key{}, err
		}
		if !ok {
			continue
		}
		if *f.dst, err = strconv.Atoi(v); err != nil {
			return Key{}, fmt.Errorf("totp: uri %s %q is not a number", f.name, v)
		}
	}
	if err := k.Params.Validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// cutPrefixFold is strings.CutPrefix with ASCII case folding.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// unescape percent-decodes one part of a label, keeping '+' as is.
func unescape(s, what string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("totp: uri %s: %w", what, err)
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("totp: uri %s is not valid UTF-8", what)
	}
	return v, nil
}

// parseAlgorithm maps an otpauth algorithm name, in any case, to an Algorithm.
func parseAlgorithm(s string) (Algorithm, error) {
	for _, a := range []Algorithm{SHA1, SHA256, SHA512} {
		if strings.EqualFold(s, a.String()) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("totp: unknown algorithm %q", s)
}
