package server

import (
	"net/http"

	"github.com/twofold-auth/twofold/internal/auth"
)

func handleTOTPSetup(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Name string `json:"name"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		setup, err := a.SetupTOTP(r.Context(), s, u, in.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{
			"qr_code":     setup.QRCode,
			"manual_key":  setup.ManualKey,
			"otpauth_uri": setup.URI,
			"message":     "Scan the QR code with your authenticator app (or type the key), then confirm with the 6-digit code it shows.",
		})
	}
}

func handleTOTPVerifySetup(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Token string `json:"token"`
			Code  string `json:"code"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		if in.Token == "" {
			in.Token = in.Code
		}
		en, err := a.ConfirmTOTP(r.Context(), client(r), s, u, in.Token)
		if err != nil {
			writeError(w, err)
			return
		}
		writeEnabled(w, en)
	}
}

// writeEnabled answers a confirmed new second factor.
func writeEnabled(w http.ResponseWriter, en auth.Enabled) {
	out := map[string]any{"success": true, "method": toMethod(en.Method)}
	if en.BackupCodes != nil {
		out["backup_codes"] = en.BackupCodes
	}
	encode(w, http.StatusOK, out)
}

func handleVerify(a *auth.Service, d Deps) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Method         string `json:"method"`
			Code           string `json:"code"`
			RememberDevice bool   `json:"remember_device"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		tok, err := a.VerifySecondFactor(r.Context(), client(r), s, u, in.Method, in.Code)
		if err != nil {
			writeError(w, err)
			return
		}
		setSession(w, d, tok)
		if in.RememberDevice {
			rememberDevice(w, r, d, a, u, tok)
		}
		encode(w, http.StatusOK, map[string]any{"status": "authenticated", "user": toUser(u, true)})
	}
}

func handleBackupCodes(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		codes, err := a.RegenerateBackupCodes(r.Context(), client(r), s, u)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"backup_codes": codes})
	}
}

func handleDisable(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		if err := a.DisableTwoFactor(r.Context(), client(r), s, u); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func handleReauthenticate(a *auth.Service, d Deps) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Password string `json:"password"`
			Method   string `json:"method"`
			Code     string `json:"code"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		tok, err := a.Reauthenticate(r.Context(), client(r), s, u, in.Password, in.Method, in.Code)
		if err != nil {
			writeError(w, err)
			return
		}
		setSession(w, d, tok)
		p, err := a.Profile(r.Context(), u)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"status": "authenticated", "user": toUser(u, p.TwoFactorEnabled())})
	}
}
