package totp

import (
	"encoding/base64"
	"fmt"

	"github.com/skip2/go-qrcode"
)

// qrSize is the width and height in pixels of QRCode images.
const qrSize = 256

// QRCode returns a PNG image of a QR code (recovery level Medium, 256 px) that encodes exactly uri.
func QRCode(uri string) ([]byte, error) {
	png, err := qrcode.Encode(uri, qrcode.Medium, qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp: encoding qr code: %w", err)
	}
	return png, nil
}

// DataURI returns png as a "data:image/png;base64,..." URI for an <img src>.
func DataURI(png []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
}
