package web

import (
	"errors"
	"fmt"
	"time"

	"github.com/twofold-auth/twofold/internal/auth"
)

// message turns an error of the auth service into a sentence for a person.
// The codes are the API's; only the wording differs.
func (p *Pages) message(err error) string {
	var e *auth.Error
	if !errors.As(err, &e) {
		return "Something went wrong on our side. Please try again."
	}
	switch e.Code {
	case auth.CodeInvalidCredentials:
		return "That email and password do not match an account. Check both and try again."
	case auth.CodeInvalidCode:
		return "That code did not work. Enter the newest code your app shows (codes change every 30 seconds)."
	case auth.CodeLocked:
		until := p.d.Auth.Now().Add(e.RetryAfter)
		return fmt.Sprintf("Too many wrong codes, so codes are not accepted for now, to protect your account. "+
			"Try again after %s (%s from now).", until.UTC().Format("15:04 UTC on 2 Jan"), roughly(e.RetryAfter))
	case auth.CodeRateLimited:
		return fmt.Sprintf("Too many attempts in a short time. Wait %s and try again.", roughly(e.RetryAfter))
	case auth.CodeEmailTaken:
		return "An account with that email already exists. Sign in instead, or use another address."
	case auth.CodeReauthRequired:
		return "For your security, confirm it is you before making this change."
	case auth.CodeUnavailable:
		return "The service is temporarily unavailable. Please try again in a moment."
	case auth.CodeInternal:
		return "Something went wrong on our side. Please try again."
	case auth.CodeDeliveryFailed:
		return "We could not send the text message just now. Wait a minute and try again, or use another way to sign in."
	case auth.CodeUnauthenticated:
		return "Your session has ended. Please sign in again."
	}
	// invalid_request, registration_closed, not_found, already_enabled,
	// delivery_failed: the service's own message is written for people.
	return upperFirst(e.Message) + "."
}

// roughly says how long d is in words, rounded up.
func roughly(d time.Duration) string {
	switch {
	case d <= time.Minute:
		s := max(1, int((d+time.Second-1)/time.Second))
		return plural(s, "second")
	case d < 2*time.Hour:
		return plural(int((d+time.Minute-1)/time.Minute), "minute")
	default:
		return plural(int((d+time.Hour-1)/time.Hour), "hour")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// eventText is how an audit-log event reads in "Recent activity": its type
// in words, and the second factor it concerned.
func eventText(e auth.Event) string {
	t, ok := eventTexts[e.Type]
	if !ok {
		t = e.Type
	}
	if e.Type == auth.EventLoginSucceeded && e.Detail["method"] == "passkey" {
		return "Signed in with a passkey"
	}
	if m, ok := e.Detail["method"].(string); ok && methodNames[m] != "" {
		t += " (" + methodNames[m] + ")"
	}
	switch e.Detail["purpose"] {
	case "reauthenticate":
		t += " to confirm a change"
	case "sms_setup":
		t += " to confirm a phone number"
	case "change_password":
		t += " when changing the password"
	}
	if left, ok := e.Detail["remaining"]; ok && e.Type == auth.EventBackupCodeUsed {
		t += fmt.Sprintf(", %v left", left)
	}
	return t
}

// methodNames say what each second-factor method is.
var methodNames = map[string]string{
	auth.MethodTOTP:       "authenticator app",
	auth.MethodBackupCode: "backup code",
	auth.MethodSMS:        "text message",
	auth.MethodWebAuthn:   "security key or passkey",
}

var eventTexts = map[string]string{
	auth.EventUserRegistered:       "Account created",
	auth.EventLoginSucceeded:       "Password accepted",
	auth.EventLoginFailed:          "Wrong password entered",
	auth.EventLoginTrustedDevice:   "Signed in on a remembered device",
	auth.Event2FASucceeded:         "Second factor accepted",
	auth.Event2FAFailed:            "Wrong second-factor code",
	auth.Event2FALocked:            "Locked after too many wrong codes",
	auth.EventTOTPEnabled:          "Authenticator app added",
	auth.EventTOTPRemoved:          "Authenticator app removed",
	auth.EventWebAuthnRegistered:   "Security key or passkey added",
	auth.EventWebAuthnRemoved:      "Security key or passkey removed",
	auth.EventWebAuthnRegressed:    "Security key counter went backwards (possible clone)",
	auth.EventSMSEnabled:           "Phone number added",
	auth.EventSMSRemoved:           "Phone number removed",
	auth.EventBackupCodeUsed:       "Backup code used",
	auth.EventBackupCodesGenerated: "New backup codes generated",
	auth.Event2FADisabled:          "Two-factor sign-in turned off",
	auth.EventDeviceTrusted:        "Device remembered",
	auth.EventDeviceRevoked:        "Remembered device removed",
	auth.EventAdminReset2FA:        "Second factors reset by an administrator",
	auth.EventAdminUnlocked:        "Unlocked by an administrator",
	auth.EventPasswordChanged:      "Password changed",
}

// warnEvents are shown highlighted: something the person should look at.
var warnEvents = map[string]bool{
	auth.EventLoginFailed:       true,
	auth.Event2FAFailed:         true,
	auth.Event2FALocked:         true,
	auth.EventWebAuthnRegressed: true,
	auth.Event2FADisabled:       true,
	auth.EventAdminReset2FA:     true,
}
