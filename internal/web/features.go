package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/twofold-auth/twofold/internal/auth"
)

// The settings for security keys and passkeys (issue 5), SMS (issue 6),
// trusted devices and the password (issue 7). Each form calls the same
// auth.Service method as its API twin.

// runFeature carries out the actions of this file for run; done is false
// when it wrote nothing and err says why.
func (p *Pages) runFeature(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User, a action) (done bool, err error) {
	ctx, c := r.Context(), p.d.Client(r)
	switch a.Kind {
	case actWebAuthnAdd:
		var opts *protocol.PublicKeyCredentialCreationOptions
		if opts, err = p.d.Auth.StartWebAuthnRegistration(ctx, c, s, u, a.Name); err == nil {
			p.renderWebAuthnAdd(w, r, u, a.Name, opts)
			return true, nil
		}
	case actWebAuthnRemove:
		if err = p.d.Auth.RemoveWebAuthnCredential(ctx, c, s, u, a.ID); err == nil {
			redirect(w, r, "/settings?done=key_removed")
			return true, nil
		}
	case actPhoneSetup:
		var masked string
		if masked, err = p.d.Auth.SetupSMS(ctx, c, s, u, a.Phone, a.Name); err == nil {
			p.renderPhoneConfirm(w, r, http.StatusOK, u, masked, "")
			return true, nil
		}
	case actPhoneRemove:
		if err = p.d.Auth.RemoveSMS(ctx, c, s, u, a.ID); err == nil {
			redirect(w, r, "/settings?done=phone_removed")
			return true, nil
		}
	case actDeviceRevoke:
		if err = p.d.Auth.RevokeDevice(ctx, c, u, a.ID); err == nil {
			redirect(w, r, "/settings?done=device_revoked")
			return true, nil
		}
	case actPassword:
		// Only reached after re-authentication: the passwords were not
		// carried through the prompt, so the form is filled in again.
		redirect(w, r, "/settings?done=confirmed#password-h")
		return true, nil
	default:
		err = auth.Errorf(auth.CodeInvalidRequest, "unknown change")
	}
	return false, err
}

// creationOptions is the API's PublicKeyCredentialCreationOptionsJSON:
// excludeCredentials always present ([] before the first key).
type creationOptions struct {
	*protocol.PublicKeyCredentialCreationOptions
	ExcludeCredentials []protocol.CredentialDescriptor `json:"excludeCredentials"`
}

// webauthnAddView is the page that runs the browser's registration
// ceremony (static/webauthn.js) for options made by the service.
type webauthnAddView struct {
	Name    string
	Options string // JSON, for parseCreationOptionsFromJSON
}

func (p *Pages) renderWebAuthnAdd(w http.ResponseWriter, r *http.Request, u auth.User, name string, opts *protocol.PublicKeyCredentialCreationOptions) {
	b, err := json.Marshal(creationOptions{opts, append([]protocol.CredentialDescriptor{}, opts.CredentialExcludeList...)})
	if err != nil {
		p.fail(w, r, auth.Errorf(auth.CodeInternal, "encode options"))
		return
	}
	v := webauthnAddView{Name: name, Options: string(b)}
	p.render(w, r, http.StatusOK, "webauthn_add", page{Title: "Add a security key or passkey", Email: u.Email, SignedIn: true, Data: v})
}

// handleWebAuthnComplete takes the browser's RegistrationResponseJSON
// (credential.toJSON(), posted by static/webauthn.js in the field
// "credential") and finishes the registration as the API does.
func (p *Pages) handleWebAuthnComplete(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	en, err := p.d.Auth.FinishWebAuthnRegistration(r.Context(), p.d.Client(r), s, u, []byte(r.PostFormValue("credential")))
	if err != nil {
		p.settingsError(w, r, s, u, err)
		return
	}
	if en.BackupCodes != nil {
		p.renderCodes(w, r, u, en.BackupCodes, true)
		return
	}
	redirect(w, r, "/settings?done=key_added")
}

// phoneView is the "enter the code we sent" page of a phone setup.
type phoneView struct {
	Phone   string // masked
	Warning string
}

func (p *Pages) renderPhoneConfirm(w http.ResponseWriter, r *http.Request, status int, u auth.User, masked, msg string) {
	v := phoneView{Phone: masked, Warning: auth.SMSRestrictedNotice}
	p.render(w, r, status, "phone_confirm", page{Title: "Confirm your phone number", Email: u.Email, SignedIn: true, Error: msg, Data: v})
}

func (p *Pages) handlePhoneConfirm(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	en, err := p.d.Auth.ConfirmSMS(r.Context(), p.d.Client(r), s, u, r.PostFormValue("code"))
	switch code := auth.ErrorCode(err); {
	case err == nil:
	case code == auth.CodeInvalidCode, code == auth.CodeLocked, code == auth.CodeRateLimited:
		// The setup is still open: ask again for the code.
		msg := p.message(err)
		if code == auth.CodeInvalidCode {
			msg = "That code did not work. Enter the 6-digit code from the text message we just sent."
		}
		p.renderPhoneConfirm(w, r, p.d.Status(err), u, "", msg)
		return
	case code == auth.CodeInvalidRequest && strings.TrimSpace(r.PostFormValue("code")) == "":
		p.renderPhoneConfirm(w, r, p.d.Status(err), u, "", "Enter the 6-digit code from the text message.")
		return
	case code == auth.CodeInvalidRequest:
		// No setup in progress (done, replaced or never begun). The
		// service's message names the API; say it for the page.
		p.settingsError(w, r, s, u, auth.Errorf(auth.CodeInvalidRequest, "no phone number is being set up: enter your number below to get a new code"))
		return
	case err != nil:
		p.settingsError(w, r, s, u, err)
		return
	}
	if en.BackupCodes != nil {
		p.renderCodes(w, r, u, en.BackupCodes, true)
		return
	}
	redirect(w, r, "/settings?done=phone_added")
}

// handlePassword changes the password (the API's POST /api/password). When
// the change needs recent authentication, the prompt asks first and the
// person fills the form in again: passwords never travel through it.
func (p *Pages) handlePassword(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	tok, err := p.d.Auth.ChangePassword(r.Context(), p.d.Client(r), s, u,
		r.PostFormValue("current_password"), r.PostFormValue("new_password"))
	if err == nil {
		p.d.SetSession(w, tok)
		redirect(w, r, "/settings?done=password_changed")
		return
	}
	switch auth.ErrorCode(err) {
	case auth.CodeReauthRequired:
		p.renderReauth(w, r, http.StatusForbidden, u, action{Kind: actPassword}, "")
		return
	case auth.CodeUnauthenticated:
		redirect(w, r, "/login")
		return
	}
	v, perr := p.settingsPage(r, s, u)
	if perr != nil {
		p.fail(w, r, perr)
		return
	}
	v.Error = p.message(err)
	if auth.ErrorCode(err) == auth.CodeInvalidCredentials {
		v.Error = "Your current password is not right, so the password was not changed."
	}
	sv := v.Data.(settingsView)
	sv.PasswordError = true
	v.Data = sv
	p.render(w, r, p.d.Status(err), "settings", v)
}

// handleResume makes the change the re-authentication prompt carries once
// the session was renewed another way (a passkey login, by webauthn.js). It
// checks nothing itself: run asks the service, which asks again for
// re-authentication if the session is still not recent.
func (p *Pages) handleResume(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
	a := action{Kind: r.PostFormValue("action"), ID: r.PostFormValue("id"), Name: r.PostFormValue("name"), Phone: r.PostFormValue("phone")}
	if _, ok := actionLabels[a.Kind]; !ok {
		p.settingsError(w, r, s, u, auth.Errorf(auth.CodeInvalidRequest, "unknown change"))
		return
	}
	p.run(w, r, s, u, a)
}
