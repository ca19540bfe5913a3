package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/twofold-auth/twofold/internal/auth"
)

// recentEvents is how much of the audit log the settings page shows.
const recentEvents = 12

// lowBackupCodes is the count at or under which settings warns.
const lowBackupCodes = 3

// settingsNotices are the confirmations /settings shows for ?done=.
var settingsNotices = map[string]string{
	"signed_up":    "Welcome! Your account is ready. Protect it with a second factor below.",
	"totp_added":   "Authenticator app added. You will be asked for a code from it when you sign in.",
	"totp_removed": "Authenticator app removed.",
	"codes_saved":  "Done. Keep your backup codes somewhere safe: each one works once if you lose your phone.",
	// Issues 5, 6 and 7.
	"key_added":        "Security key or passkey added. You can use it when you sign in.",
	"key_removed":      "Security key or passkey removed.",
	"phone_added":      "Phone number added. You can get sign-in codes by text message.",
	"phone_removed":    "Phone number removed.",
	"device_revoked":   "That device is forgotten: it will be asked for a second factor next time.",
	"password_changed": "Password changed. You were signed out everywhere else, and remembered devices were forgotten.",
	"confirmed":        "Thank you. Now make your change again: it will not ask for your password for 10 minutes.",
}

// settingsView is the settings page.
type settingsView struct {
	Profile auth.Profile
	Events  []eventView
	// LowBackupCodes warns that few backup codes are left.
	LowBackupCodes bool
	// Recent says changes can be made without re-authenticating now.
	Recent bool
	// Devices are the remembered browsers; DevicesOn says the feature is
	// on (trusted-device TTL not 0).
	Devices   []auth.TrustedDevice
	DevicesOn bool
	// SMSWarning is the restricted-authenticator notice (NIST SP 800-63B).
	SMSWarning string
	// PasswordError marks the password form as the one to fix.
	PasswordError bool
}

type eventView struct {
	auth.Event
	Warn bool
}

func (p *Pages) settingsPage(r *http.Request, s auth.Session, u auth.User) (page, error) {
	prof, err := p.d.Auth.Profile(r.Context(), u)
	if err != nil {
		return page{}, err
	}
	evs, err := p.d.Auth.Events(r.Context(), u.ID, recentEvents)
	if err != nil {
		return page{}, err
	}
	devs, err := p.d.Auth.Devices(r.Context(), u, p.d.TrustedDeviceTTL)
	if err != nil {
		return page{}, err
	}
	v := settingsView{
		Devices: devs, DevicesOn: p.d.TrustedDeviceTTL > 0, SMSWarning: auth.SMSRestrictedNotice,
		Profile:        prof,
		LowBackupCodes: prof.TwoFactorEnabled() && prof.BackupCodesRemaining <= lowBackupCodes,
		Recent:         p.d.Auth.RecentlyAuthenticated(s),
	}
	for _, e := range evs {
		v.Events = append(v.Events, eventView{Event: e, Warn: warnEvents[e.Type]})
	}
	return page{Title: "Account settings", Email: u.Email, SignedIn: true, Data: v}, nil
}

func (p *Pages) handleSettings(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	v, err := p.settingsPage(r, s, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v.Notice = settingsNotices[r.URL.Query().Get("done")]
	p.render(w, r, http.StatusOK, "settings", v)
}

// settingsError shows the settings page with err at the top.
func (p *Pages) settingsError(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User, err error) {
	v, perr := p.settingsPage(r, s, u)
	if perr != nil {
		p.fail(w, r, perr)
		return
	}
	v.Error = p.message(err)
	p.render(w, r, p.d.Status(err), "settings", v)
}

// action is a change made from the settings page that may need recent
// authentication. The re-authentication prompt carries it in hidden fields
// and runs it once the person has confirmed who they are.
type action struct {
	Kind  string
	ID    string // of the factor to remove
	Name  string // of the factor to add
	Phone string // to add
}

// The action kinds; issues 5, 6 and 7 add theirs here and in run.
const (
	actTOTPSetup   = "totp-setup"
	actTOTPResume  = "totp-resume"
	actTOTPRemove  = "totp-remove"
	actBackupCodes = "backup-codes"
	// Issues 5, 6 and 7 (features.go).
	actWebAuthnAdd    = "webauthn-add"
	actWebAuthnRemove = "webauthn-remove"
	actPhoneSetup     = "phone-setup"
	actPhoneRemove    = "phone-remove"
	actDeviceRevoke   = "device-revoke"
	actPassword       = "password"
)

// actionLabels say what the re-authentication prompt is for.
var actionLabels = map[string]string{
	actTOTPSetup:   "add an authenticator app",
	actTOTPResume:  "see the authenticator app setup again",
	actTOTPRemove:  "remove an authenticator app",
	actBackupCodes: "generate new backup codes",

	actWebAuthnAdd:    "add a security key or passkey",
	actWebAuthnRemove: "remove a security key or passkey",
	actPhoneSetup:     "add a phone number",
	actPhoneRemove:    "remove a phone number",
	actDeviceRevoke:   "forget a remembered device",
	actPassword:       "change your password",
}

// Label says what the action does, for the re-authentication prompt.
func (a action) Label() string { return actionLabels[a.Kind] }

// act serves a settings change described by the request.
func (p *Pages) act(describe func(*http.Request) action) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		p.run(w, r, s, u, describe(r))
	}
}

// run makes the change a, or asks the person to re-authenticate first.
func (p *Pages) run(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User, a action) {
	ctx, c := r.Context(), p.d.Client(r)
	var err error
	switch a.Kind {
	case actTOTPSetup, actTOTPResume:
		var setup auth.TOTPSetup
		if a.Kind == actTOTPSetup {
			setup, err = p.d.Auth.SetupTOTP(ctx, s, u, a.Name)
		} else {
			setup, err = p.d.Auth.ResumeTOTPSetup(ctx, s, u)
		}
		if err == nil {
			p.renderSetup(w, r, http.StatusOK, u, setup, "")
			return
		}
	case actTOTPRemove:
		if err = p.d.Auth.RemoveTOTP(ctx, c, s, u, a.ID); err == nil {
			redirect(w, r, "/settings?done=totp_removed")
			return
		}
	case actBackupCodes:
		var codes []string
		if codes, err = p.d.Auth.RegenerateBackupCodes(ctx, c, s, u); err == nil {
			p.renderCodes(w, r, u, codes, false)
			return
		}
	default:
		var done bool
		if done, err = p.runFeature(w, r, s, u, a); done {
			return
		}
	}
	if auth.ErrorCode(err) == auth.CodeReauthRequired {
		p.renderReauth(w, r, http.StatusForbidden, u, a, "")
		return
	}
	if a.Kind == actTOTPResume {
		redirect(w, r, "/settings") // no setup in progress: nothing to show again
		return
	}
	p.settingsError(w, r, s, u, err)
}

// setupView is the "add an authenticator app" page.
type setupView struct {
	QRCode    template.URL
	ManualKey string
	// Issuer and Account are what the app will list the entry as.
	Issuer, Account string
}

func (p *Pages) renderSetup(w http.ResponseWriter, r *http.Request, status int, u auth.User, setup auth.TOTPSetup, msg string) {
	v := setupView{ManualKey: setup.ManualKey, Account: u.Email, Issuer: issuerOf(setup.URI)}
	if strings.HasPrefix(setup.QRCode, "data:image/png;base64,") {
		v.QRCode = template.URL(setup.QRCode) // made by totp.DataURI, not by the client
	}
	p.render(w, r, status, "totp_setup", page{Title: "Add an authenticator app", Email: u.Email, SignedIn: true, Error: msg, Data: v})
}

// issuerOf reads the issuer parameter of an otpauth URI.
func issuerOf(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		return u.Query().Get("issuer")
	}
	return ""
}

func (p *Pages) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	en, err := p.d.Auth.ConfirmTOTP(r.Context(), p.d.Client(r), s, u, r.PostFormValue("code"))
	if auth.ErrorCode(err) == auth.CodeReauthRequired {
		// Confirming needs recent authentication too: prove it, then see the same key again.
		p.renderReauth(w, r, http.StatusForbidden, u, action{Kind: actTOTPResume}, "")
		return
	}
	if auth.ErrorCode(err) == auth.CodeInvalidCode {
		// Show the same key again: the person may already have scanned it.
		setup, rerr := p.d.Auth.ResumeTOTPSetup(r.Context(), s, u)
		if rerr == nil {
			p.renderSetup(w, r, p.d.Status(err), u, setup, p.message(err))
			return
		}
		if auth.ErrorCode(rerr) == auth.CodeReauthRequired {
			p.renderReauth(w, r, http.StatusForbidden, u, action{Kind: actTOTPResume}, "")
			return
		}
		err = rerr
	}
	if err != nil {
		p.settingsError(w, r, s, u, err)
		return
	}
	if en.BackupCodes != nil {
		p.renderCodes(w, r, u, en.BackupCodes, true)
		return
	}
	redirect(w, r, "/settings?done=totp_added")
}

// codesView is the page that shows new backup codes, once.
type codesView struct {
	Codes []string
	// First is set when they came with the first second factor.
	First bool
	// Download is the codes as a text file, for a download link that works
	// without JavaScript.
	Download template.URL
}

func (p *Pages) renderCodes(w http.ResponseWriter, r *http.Request, u auth.User, codes []string, first bool) {
	text := "twofold backup codes for " + u.Email + "\nEach code works once.\n\n" + strings.Join(codes, "\n") + "\n"
	v := codesView{
		Codes: codes, First: first,
		Download: template.URL("data:text/plain;charset=utf-8," + url.PathEscape(text)),
	}
	p.render(w, r, http.StatusOK, "backup_codes", page{Title: "Your backup codes", Email: u.Email, SignedIn: true, Data: v})
}

// reauthView is the "confirm it is you" prompt.
type reauthView struct {
	Action action
	// Method is the second factor asked for ("" when the user has none).
	Method                  string
	HasTOTP, HasBackupCodes bool
	// HasWebAuthn offers "Confirm with a passkey" (webauthn.js): a passkey
	// login renews the session, and /settings/resume then makes the change.
	HasWebAuthn bool
}

func (p *Pages) renderReauth(w http.ResponseWriter, r *http.Request, status int, u auth.User, a action, msg string) {
	v := reauthView{Action: a}
	prof, err := p.d.Auth.Profile(r.Context(), u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v.HasTOTP, v.HasBackupCodes = len(prof.TOTP) > 0, prof.BackupCodesRemaining > 0
	v.HasWebAuthn = len(prof.WebAuthn) > 0
	switch m := r.PostFormValue("method"); {
	case m == auth.MethodBackupCode && v.HasBackupCodes, m == auth.MethodTOTP && v.HasTOTP:
		v.Method = m
	case v.HasTOTP:
		v.Method = auth.MethodTOTP
	case v.HasBackupCodes:
		v.Method = auth.MethodBackupCode
	}
	p.render(w, r, status, "reauth", page{Title: "Confirm it is you", Email: u.Email, SignedIn: true, Error: msg, Data: v})
}

func (p *Pages) handleReauth(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	a := action{Kind: r.PostFormValue("action"), ID: r.PostFormValue("id"), Name: r.PostFormValue("name"), Phone: r.PostFormValue("phone")}
	if _, ok := actionLabels[a.Kind]; !ok {
		p.settingsError(w, r, s, u, auth.Errorf(auth.CodeInvalidRequest, "unknown change"))
		return
	}
	tok, err := p.d.Auth.Reauthenticate(r.Context(), p.d.Client(r), s, u,
		r.PostFormValue("password"), r.PostFormValue("method"), r.PostFormValue("code"))
	if auth.ErrorCode(err) == auth.CodeUnauthenticated {
		redirect(w, r, "/login")
		return
	}
	if err != nil {
		msg := p.message(err)
		if auth.ErrorCode(err) == auth.CodeInvalidCredentials {
			msg = "That password is not right. Try again."
		}
		p.renderReauth(w, r, p.d.Status(err), u, a, msg)
		return
	}
	p.d.SetSession(w, tok)
	// The rotated session is the one to act with.
	s, u, err = p.d.Auth.Authenticate(r.Context(), tok)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.run(w, r, s, u, a)
}
