package web

import (
	"net/http"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// maxForm bounds a form body, like the API's JSON bodies (SPEC §2).
const maxForm = 64 << 10

// parseForm reads a POSTed form of at most maxForm bytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return auth.Errorf(auth.CodeInvalidRequest, "the form could not be read")
	}
	return nil
}

// current returns the request's live session, if any. ok is false for no
// session; err is set when the session could not be checked at all.
func (p *Pages) current(r *http.Request) (s auth.Session, u auth.User, ok bool, err error) {
	s, u, err = p.d.Auth.Authenticate(r.Context(), p.d.SessionToken(r))
	if auth.ErrorCode(err) == auth.CodeUnauthenticated {
		return s, u, false, nil
	}
	return s, u, err == nil, err
}

// sessionHandler serves a request whose session has been checked.
type sessionHandler func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User)

// authed runs h for a signed-in session; others go to where they belong.
func (p *Pages) authed(h sessionHandler) http.HandlerFunc {
	return p.withSession(auth.StateAuthenticated, h)
}

// pending runs h for a session that owes a second factor.
func (p *Pages) pending(h sessionHandler) http.HandlerFunc {
	return p.withSession(auth.StatePending, h)
}

func (p *Pages) withSession(want auth.SessionState, h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, u, ok, err := p.current(r)
		switch {
		case err != nil:
			p.fail(w, r, err)
		case !ok:
			redirect(w, r, "/login")
		case s.State != want && s.State == auth.StatePending:
			redirect(w, r, "/login/2fa")
		case s.State != want:
			redirect(w, r, "/settings")
		case r.Method == http.MethodPost && parseForm(w, r) != nil:
			p.fail(w, r, auth.Errorf(auth.CodeInvalidRequest, "the form could not be read"))
		default:
			h(w, r, s, u)
		}
	}
}

// fail shows an error that has no better page to go on.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	p.render(w, r, p.d.Status(err), "login", page{Title: "Sign in", Error: p.message(err)})
}

func (p *Pages) handleRoot(w http.ResponseWriter, r *http.Request) {
	s, _, ok, _ := p.current(r)
	if ok && s.State == auth.StateAuthenticated {
		redirect(w, r, "/settings")
		return
	}
	redirect(w, r, "/login")
}

func (p *Pages) handleSignupPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "signup", page{Title: "Create your account"})
}

func (p *Pages) handleSignup(w http.ResponseWriter, r *http.Request) {
	v := page{Title: "Create your account"}
	if err := parseForm(w, r); err != nil {
		v.Error = p.message(err)
		p.render(w, r, http.StatusBadRequest, "signup", v)
		return
	}
	v.Email = r.PostFormValue("email")
	res, err := p.d.Auth.Register(r.Context(), p.d.Client(r), v.Email, r.PostFormValue("password"))
	if err != nil {
		v.Error = p.message(err)
		p.render(w, r, p.d.Status(err), "signup", v)
		return
	}
	// Whatever session the browser had is replaced, as in the API.
	_ = p.d.Auth.Logout(r.Context(), p.d.SessionToken(r))
	p.d.SetSession(w, res.Token)
	redirect(w, r, "/settings?done=signed_up")
}

// loginNotices are the confirmations /login shows for ?done=.
var loginNotices = map[string]string{
	"signed_out": "You have signed out.",
}

func (p *Pages) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if s, _, ok, _ := p.current(r); ok && s.State == auth.StateAuthenticated {
		redirect(w, r, "/settings")
		return
	}
	p.render(w, r, http.StatusOK, "login", page{Title: "Sign in", Notice: loginNotices[r.URL.Query().Get("done")]})
}

func (p *Pages) handleLogin(w http.ResponseWriter, r *http.Request) {
	v := page{Title: "Sign in"}
	if err := parseForm(w, r); err != nil {
		v.Error = p.message(err)
		p.render(w, r, http.StatusBadRequest, "login", v)
		return
	}
	v.Email = r.PostFormValue("email")
	res, err := p.d.Auth.LoginWithDevice(r.Context(), p.d.Client(r), v.Email, r.PostFormValue("password"), p.deviceToken(r), p.d.TrustedDeviceTTL)
	if err != nil {
		p.loginOutcome(string(auth.ErrorCode(err)))
		v.Error = p.message(err)
		p.render(w, r, p.d.Status(err), "login", v)
		return
	}
	p.loginOutcome(res.Status)
	_ = p.d.Auth.Logout(r.Context(), p.d.SessionToken(r))
	p.d.SetSession(w, res.Token)
	if p.d.SetDevice != nil {
		p.d.SetDevice(w, res.Device)
	}
	if res.Status == "2fa_required" {
		redirect(w, r, "/login/2fa")
		return
	}
	redirect(w, r, "/settings")
}

func (p *Pages) loginOutcome(outcome string) {
	if p.d.LoginOutcome != nil {
		p.d.LoginOutcome(outcome)
	}
}

// deviceToken is the browser's trusted-device token ("" when none).
func (p *Pages) deviceToken(r *http.Request) string {
	if p.d.DeviceToken == nil {
		return ""
	}
	return p.d.DeviceToken(r)
}

// twoFAView is the second-factor prompt.
type twoFAView struct {
	// Method is the code form's method: totp, sms or backup_code; "" when
	// the prompt offers only the security key (no code form).
	Method string
	// What the user has, to offer the other ways.
	HasTOTP, HasBackupCodes, HasWebAuthn, HasSMS bool
	// Phone is the masked number SMS codes go to.
	Phone string
	// Sent says an SMS code was just sent.
	Sent bool
	// RememberDevice shows the "remember this device" box (the
	// trusted-device TTL is not 0); RememberDays is that TTL in days.
	RememberDevice bool
	RememberDays   int
}

func (p *Pages) twoFAView(r *http.Request, u auth.User, method string) (twoFAView, error) {
	prof, err := p.d.Auth.Profile(r.Context(), u)
	if err != nil {
		return twoFAView{}, err
	}
	v := twoFAView{
		HasTOTP: len(prof.TOTP) > 0, HasBackupCodes: prof.BackupCodesRemaining > 0,
		HasWebAuthn: len(prof.WebAuthn) > 0, HasSMS: len(prof.SMS) > 0,
		RememberDevice: p.d.TrustedDeviceTTL > 0,
		RememberDays:   int((p.d.TrustedDeviceTTL + 24*time.Hour - 1) / (24 * time.Hour)),
	}
	if v.HasSMS {
		// Codes go to the newest phone, as in SendLoginCode.
		v.Phone = prof.SMS[len(prof.SMS)-1].Phone
	}
	switch {
	case method == auth.MethodBackupCode && v.HasBackupCodes,
		method == auth.MethodSMS && v.HasSMS,
		method == auth.MethodTOTP && v.HasTOTP:
		v.Method = method
	case method == auth.MethodWebAuthn && v.HasWebAuthn:
		v.Method = ""
	case v.HasTOTP:
		v.Method = auth.MethodTOTP
	case v.HasSMS:
		v.Method = auth.MethodSMS
	case v.HasWebAuthn:
		v.Method = ""
	case v.HasBackupCodes:
		v.Method = auth.MethodBackupCode
	}
	return v, nil
}

func (p *Pages) handleTwoFAPage(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	q := r.URL.Query()
	v, err := p.twoFAView(r, u, q.Get("method"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	pg := page{Title: "Two-step verification", Data: v}
	if q.Get("done") == "sent" && v.Method == auth.MethodSMS {
		v.Sent = true
		pg.Notice = "We sent a 6-digit code to " + v.Phone + " by text message. It expires in 5 minutes."
		pg.Data = v
	}
	p.render(w, r, http.StatusOK, "twofa", pg)
}

func (p *Pages) handleTwoFA(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	method := r.PostFormValue("method")
	tok, err := p.d.Auth.VerifySecondFactor(r.Context(), p.d.Client(r), s, u, method, r.PostFormValue("code"))
	if auth.ErrorCode(err) == auth.CodeUnauthenticated {
		redirect(w, r, "/login") // another request finished this login first
		return
	}
	if err != nil {
		p.twoFAError(w, r, u, method, err)
		return
	}
	p.d.SetSession(w, tok)
	if r.PostFormValue("remember_device") == "true" && p.d.RememberDevice != nil {
		p.d.RememberDevice(w, r, u, tok)
	}
	redirect(w, r, "/settings")
}

// twoFAError shows the prompt again for method with err.
func (p *Pages) twoFAError(w http.ResponseWriter, r *http.Request, u auth.User, method string, err error) {
	v, verr := p.twoFAView(r, u, method)
	if verr != nil {
		p.fail(w, r, verr)
		return
	}
	v.Sent = v.Method == auth.MethodSMS
	msg := p.message(err)
	if v.Sent && auth.ErrorCode(err) == auth.CodeInvalidCode {
		msg = "That code did not work. Enter the code from the newest text message, or send a new one."
	}
	p.render(w, r, p.d.Status(err), "twofa", page{Title: "Two-step verification", Error: msg, Data: v})
}

// handleSend sends an SMS code for the pending login (the API's
// /api/2fa/send), then asks for it.
func (p *Pages) handleSend(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	err := p.d.Auth.SendLoginCode(r.Context(), p.d.Client(r), s, u, auth.MethodSMS)
	if err != nil {
		v, verr := p.twoFAView(r, u, auth.MethodSMS)
		if verr != nil {
			p.fail(w, r, verr)
			return
		}
		p.render(w, r, p.d.Status(err), "twofa", page{Title: "Two-step verification", Error: p.message(err), Data: v})
		return
	}
	redirect(w, r, "/login/2fa?method=sms&done=sent")
}

func (p *Pages) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := p.d.Auth.Logout(r.Context(), p.d.SessionToken(r)); err != nil {
		p.fail(w, r, err)
		return
	}
	p.d.ClearSession(w)
	redirect(w, r, "/login?done=signed_out")
}
