package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/twofold-auth/twofold/internal/auth"
)

// ceremonyCookie binds a passkey login (which has no session yet) to the
// browser that began it.
const ceremonyCookie = "twofold_webauthn"

// creationOptions is PublicKeyCredentialCreationOptionsJSON with
// excludeCredentials always present ([] before the first key), as SPEC §3
// lists it.
type creationOptions struct {
	*protocol.PublicKeyCredentialCreationOptions
	ExcludeCredentials []protocol.CredentialDescriptor `json:"excludeCredentials"`
}

func toCreationOptions(o *protocol.PublicKeyCredentialCreationOptions) creationOptions {
	return creationOptions{o, append([]protocol.CredentialDescriptor{}, o.CredentialExcludeList...)}
}

// requestOptions is PublicKeyCredentialRequestOptionsJSON with
// allowCredentials always present ([] for a passkey login, SPEC §3).
type requestOptions struct {
	*protocol.PublicKeyCredentialRequestOptions
	AllowCredentials []protocol.CredentialDescriptor `json:"allowCredentials"`
}

func toRequestOptions(o *protocol.PublicKeyCredentialRequestOptions) requestOptions {
	return requestOptions{o, append([]protocol.CredentialDescriptor{}, o.AllowedCredentials...)}
}

// readBody reads a request body of at most 64 KiB. Code: invalid_request.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, auth.Errorf(auth.CodeInvalidRequest, "request body is larger than 64 KiB")
		}
		return nil, auth.Errorf(auth.CodeInvalidRequest, "could not read the request body")
	}
	return data, nil
}

func handleWebAuthnRegisterStart(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Name string `json:"name"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		opts, err := a.StartWebAuthnRegistration(r.Context(), client(r), s, u, in.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusOK, toCreationOptions(opts))
	}
}

func handleWebAuthnRegisterComplete(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		en, err := a.FinishWebAuthnRegistration(r.Context(), client(r), s, u, body)
		if err != nil {
			writeError(w, err)
			return
		}
		writeEnabled(w, en)
	}
}

// pendingSession returns the request's session when it is a live pending
// one (a login owing its second factor).
func pendingSession(a *auth.Service, r *http.Request) (auth.Session, auth.User, bool) {
	tok := sessionToken(r)
	if tok == "" {
		return auth.Session{}, auth.User{}, false
	}
	s, u, err := a.Authenticate(r.Context(), tok)
	return s, u, err == nil && s.State == auth.StatePending
}

// handleWebAuthnAuthenticateStart starts the second step of a login for a
// pending session, and a passkey login otherwise.
func handleWebAuthnAuthenticateStart(a *auth.Service, d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, u, ok := pendingSession(a, r); ok {
			opts, err := a.StartWebAuthnLogin(r.Context(), s, u)
			if err != nil {
				writeError(w, err)
				return
			}
			encode(w, http.StatusOK, toRequestOptions(opts))
			return
		}
		opts, tok, err := a.StartPasskeyLogin(r.Context(), client(r))
		if err != nil {
			writeError(w, err)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: ceremonyCookie, Value: tok, Path: "/api/webauthn/", MaxAge: int(auth.ChallengeTTL.Seconds()),
			HttpOnly: true, Secure: d.Secure, SameSite: http.SameSiteStrictMode,
		})
		encode(w, http.StatusOK, toRequestOptions(opts))
	})
}

// handleWebAuthnAuthenticateComplete finishes what the start began: the
// second step of a pending login, or a passkey login.
func handleWebAuthnAuthenticateComplete(a *auth.Service, d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		if s, u, ok := pendingSession(a, r); ok {
			tok, err := a.FinishWebAuthnLogin(r.Context(), client(r), s, u, body)
			if err != nil {
				writeError(w, err)
				return
			}
			setSession(w, d, tok)
			if r.URL.Query().Get("remember_device") == "true" {
				rememberDevice(w, r, d, a, u, tok)
			}
			encode(w, http.StatusOK, map[string]any{"status": "authenticated", "user": toUser(u, true)})
			return
		}
		var ceremony string
		if c, err := r.Cookie(ceremonyCookie); err == nil {
			ceremony = c.Value
		}
		res, err := a.FinishPasskeyLogin(r.Context(), client(r), ceremony, body)
		if err != nil {
			writeError(w, err)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: ceremonyCookie, Value: "", Path: "/api/webauthn/", MaxAge: -1,
			HttpOnly: true, Secure: d.Secure, SameSite: http.SameSiteStrictMode,
		})
		// A session the browser already had is replaced.
		_ = a.Logout(r.Context(), sessionToken(r))
		setSession(w, d, res.Token)
		encode(w, http.StatusOK, map[string]any{"status": "authenticated", "user": toUser(res.User, true)})
	})
}
