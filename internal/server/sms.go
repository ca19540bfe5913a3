package server

import (
	"net/http"

	"github.com/twofold-auth/twofold/internal/auth"
)

func handleSend(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Method string `json:"method"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		if err := a.SendLoginCode(r.Context(), client(r), s, u, in.Method); err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusAccepted, map[string]any{"status": "sent", "message": "We sent a 6-digit code to your phone. It expires in 5 minutes."})
	}
}

func handleSMSSetup(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Phone string `json:"phone"`
			Name  string `json:"name"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		masked, err := a.SetupSMS(r.Context(), client(r), s, u, in.Phone, in.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		encode(w, http.StatusAccepted, map[string]any{
			"status":  "sent",
			"phone":   masked,
			"message": "We sent a 6-digit code to " + masked + ": confirm it with /api/sms/verify-setup. " + auth.SMSRestrictedNotice,
		})
	}
}

func handleSMSVerifySetup(a *auth.Service) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, s auth.Session, u auth.User) {
		var in struct {
			Code string `json:"code"`
		}
		if err := decode(w, r, &in); err != nil {
			writeError(w, err)
			return
		}
		en, err := a.ConfirmSMS(r.Context(), client(r), s, u, in.Code)
		if err != nil {
			writeError(w, err)
			return
		}
		writeEnabled(w, en)
	}
}
