package auth

import (
	"errors"
	"fmt"
	"time"
)

// Code is one of the closed set of error codes clients see (SPEC §2).
type Code string

// The codes. Each maps to one HTTP status in the server's table, except
// CodeInvalidCode, whose status depends on where it happens (see Error.Setup).
const (
	CodeInvalidRequest     Code = "invalid_request"
	CodeInvalidCode        Code = "invalid_code"
	CodeUnauthenticated    Code = "unauthenticated"
	CodeInvalidCredentials Code = "invalid_credentials"
	CodeReauthRequired     Code = "reauthentication_required"
	CodeRegistrationClosed Code = "registration_closed"
	CodeNotFound           Code = "not_found"
	CodeEmailTaken         Code = "email_taken"
	CodeAlreadyEnabled     Code = "already_enabled"
	CodeRateLimited        Code = "rate_limited"
	CodeLocked             Code = "locked"
	CodeInternal           Code = "internal"
	CodeDeliveryFailed     Code = "delivery_failed"
	CodeUnavailable        Code = "unavailable"
)

// Error is an error a client may see: a code and a human message that never
// carries a secret or an internal detail.
type Error struct {
	Code    Code
	Message string
	// RetryAfter is set on rate_limited and locked: how long until a retry can succeed.
	RetryAfter time.Duration
	// Setup marks invalid_code during a setup confirmation (400, not 401).
	Setup bool
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or CodeInternal for errors that are not *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Sentinel errors returned by stores; the service turns them into client errors.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a unique constraint refused the row.
	ErrDuplicate = errors.New("duplicate")
	// ErrSessionRotated: a write that was to rotate a session found its
	// token hash changed (rotated or removed meanwhile) and changed nothing.
	ErrSessionRotated = errors.New("session rotated or removed meanwhile")
	// ErrUnavailable wraps a store error caused by an unreachable database.
	ErrUnavailable = errors.New("database unavailable")
)

var (
	errUnauthenticated    = &Error{Code: CodeUnauthenticated, Message: "sign in first"}
	errInvalidCredentials = &Error{Code: CodeInvalidCredentials, Message: "wrong email or password"}
	errInvalidCode        = &Error{Code: CodeInvalidCode, Message: "that code is not valid"}
	errReauth             = &Error{Code: CodeReauthRequired, Message: "confirm it is you: sign in again to make this change"}
)
