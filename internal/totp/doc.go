// Package totp computes and checks time-based one-time passwords (RFC 6238, RFC 4226) and the Key Uri Format that authenticator apps scan.
package totp
