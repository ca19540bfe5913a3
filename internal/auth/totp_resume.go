package auth

import (
	"context"
	"errors"

	"github.com/twofold-auth/twofold/internal/totp"
)

// ResumeTOTPSetup shows the pending authenticator-app setup again (QR code
// and manual key), so that a person who mistyped the confirmation code can
// retry without scanning a new secret. It reveals a secret, so it needs
// recent authentication like SetupTOTP.
// Codes: reauthentication_required, invalid_request (no setup in progress).
func (s *Service) ResumeTOTPSetup(ctx context.Context, sess Session, u User) (TOTPSetup, error) {
	if err := s.requireRecent(sess); err != nil {
		return TOTPSetup{}, err
	}
	p, err := s.store.PendingTOTP(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		return TOTPSetup{}, Errorf(CodeInvalidRequest, "no authenticator app is being set up")
	}
	if err != nil {
		return TOTPSetup{}, s.internal(ctx, "find pending totp", err)
	}
	secret, err := s.keys.open(p.Secret, "totp:"+p.ID)
	if err != nil {
		return TOTPSetup{}, s.internal(ctx, "open pending totp secret", err)
	}
	return s.totpSetup(ctx, u, secret)
}

// totpSetup is what a person needs to add secret to an authenticator app.
func (s *Service) totpSetup(ctx context.Context, u User, secret []byte) (TOTPSetup, error) {
	uri := totp.URI(s.issuer, u.Email, secret, totp.Default)
	png, err := totp.QRCode(uri)
	if err != nil {
		return TOTPSetup{}, s.internal(ctx, "draw qr code", err)
	}
	return TOTPSetup{URI: uri, ManualKey: totp.EncodeSecret(secret), QRCode: totp.DataURI(png)}, nil
}
