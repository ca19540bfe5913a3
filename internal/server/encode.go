package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twofold-auth/twofold/internal/auth"
)

// maxBody is the largest request body accepted (SPEC §2).
const maxBody = 64 << 10

// statusOf maps every error code to its HTTP status (SPEC §2).
var statusOf = map[auth.Code]int{
	auth.CodeInvalidRequest:     http.StatusBadRequest,
	auth.CodeInvalidCode:        http.StatusUnauthorized,
	auth.CodeUnauthenticated:    http.StatusUnauthorized,
	auth.CodeInvalidCredentials: http.StatusUnauthorized,
	auth.CodeReauthRequired:     http.StatusForbidden,
	auth.CodeRegistrationClosed: http.StatusForbidden,
	auth.CodeNotFound:           http.StatusNotFound,
	auth.CodeEmailTaken:         http.StatusConflict,
	auth.CodeAlreadyEnabled:     http.StatusConflict,
	auth.CodeRateLimited:        http.StatusTooManyRequests,
	auth.CodeLocked:             http.StatusTooManyRequests,
	auth.CodeInternal:           http.StatusInternalServerError,
	auth.CodeDeliveryFailed:     http.StatusBadGateway,
	auth.CodeUnavailable:        http.StatusServiceUnavailable,
}

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error struct {
		Code    auth.Code `json:"code"`
		Message string    `json:"message"`
	} `json:"error"`
}

// statusClientClosed is written (as nginx does) when the client went away
// before its answer was ready: nobody reads it, and it must not be counted or
// logged as a server error.
const statusClientClosed = 499

// writeError writes err in the error envelope. Errors that are not
// *auth.Error become 500 internal with no detail.
func writeError(w http.ResponseWriter, err error) {
	var e *auth.Error
	if !errors.As(err, &e) && errors.Is(err, context.Canceled) {
		w.WriteHeader(statusClientClosed)
		return
	}
	if e == nil {
		e = auth.Errorf(auth.CodeInternal, "something went wrong on our side")
	}
	status := statusFor(e)
	if e.Code == auth.CodeRateLimited || e.Code == auth.CodeLocked {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(e.RetryAfter)))
	}
	if e.Code == auth.CodeUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	var body errorBody
	body.Error.Code, body.Error.Message = e.Code, e.Message
	encode(w, status, body)
}

// retrySeconds rounds a wait up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(1, s)
}

// decode reads a JSON object body into v. An empty body is an empty object.
// Code: invalid_request.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return auth.Errorf(auth.CodeInvalidRequest, "request body is larger than 64 KiB")
		}
		return auth.Errorf(auth.CodeInvalidRequest, "could not read the request body")
	}
	return decodeBytes(data, v)
}

// decodeBytes is decode's parsing half, fuzzed on its own.
func decodeBytes(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil
	}
	if data[0] != '{' {
		return auth.Errorf(auth.CodeInvalidRequest, "request body must be a JSON object")
	}
	// JSON is UTF-8 (RFC 8259); encoding/json would turn each invalid byte
	// into U+FFFD, so two different Latin-1 passwords would become one.
	if !utf8.Valid(data) {
		return auth.Errorf(auth.CodeInvalidRequest, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return auth.Errorf(auth.CodeInvalidRequest, "field %q has the wrong type", te.Field)
		}
		return auth.Errorf(auth.CodeInvalidRequest, "request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return auth.Errorf(auth.CodeInvalidRequest, "request body has data after the JSON object")
	}
	return nil
}

// userJSON is the User object of SPEC §2.
type userJSON struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	TwoFactorEnabled bool      `json:"two_factor_enabled"`
	CreatedAt        time.Time `json:"created_at"`
}

func toUser(u auth.User, twoFactor bool) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, TwoFactorEnabled: twoFactor, CreatedAt: u.CreatedAt.UTC()}
}

// eventJSON is the Event object of SPEC §2.
type eventJSON struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Type      string         `json:"type"`
	UserID    *string        `json:"user_id"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"user_agent"`
	Detail    map[string]any `json:"detail"`
}

func toEvents(evs []auth.Event) []eventJSON {
	out := make([]eventJSON, 0, len(evs))
	for _, e := range evs {
		var uid *string
		if e.UserID != "" {
			uid = &e.UserID
		}
		out = append(out, eventJSON{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, UserID: uid, IP: e.IP, UserAgent: e.UserAgent, Detail: e.Detail})
	}
	return out
}

// queryInt reads an optional positive integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, auth.Errorf(auth.CodeInvalidRequest, "%s must be a positive whole number", name)
	}
	return n, nil
}
