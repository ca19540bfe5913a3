package totp_test

import (
	"bytes"
	"crypto/rand"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twofold-auth/twofold/internal/totp"
)

// needTool returns the path of an external program, skipping the test when it is
// missing, or failing it when CI=true.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " not installed: apt-get install " + pkg
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// oathtool runs oathtool with the base32 secret on stdin, so it never shows in a process list.
func oathtool(t *testing.T, path string, secret []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Stdin = strings.NewReader(totp.EncodeSecret(secret))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && stderr.Len() > 0 {
		t.Logf("oathtool %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), err
}

func TestOathtoolInterop(t *testing.T) {
	path := needTool(t, "oathtool", "oathtool")
	secret, err := totp.NewSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	times := []int64{0, 59, 1111111109, 1234567890, 2000000000, 20000000000, time.Now().Unix()}
	for _, alg := range []totp.Algorithm{totp.SHA1, totp.SHA256, totp.SHA512} {
		for _, p := range []totp.Params{{alg, 6, 30}, {alg, 8, 60}, {alg, 7, 15}} {
			t.Run(p.Algorithm.String()+"/"+strconv.Itoa(p.Digits)+"digits/"+strconv.Itoa(p.Period)+"s", func(t *testing.T) {
				base := []string{
					"--totp=" + p.Algorithm.String(), "--base32",
					"--digits=" + strconv.Itoa(p.Digits),
					"--time-step-size=" + strconv.Itoa(p.Period) + "s",
				}
				for _, unix := range times {
					at := time.Unix(unix, 0)
					now := "--now=@" + strconv.FormatInt(unix, 10)

					t.Run("T="+strconv.FormatInt(unix, 10)+"/Code equals oathtool", func(t *testing.T) {
						want, err := oathtool(t, path, secret, append(base, now, "-")...)
						if err != nil {
							t.Fatalf("oathtool at T=%d: %v", unix, err)
						}
						if got := totp.Code(secret, at, p); got != want {
							t.Errorf("Code(T=%d) = %q, want oathtool's %q", unix, got, want)
						}
						if step, ok := totp.Verify(secret, want, at, 1, p); !ok || step != totp.Step(at, p) {
							t.Errorf("Verify(oathtool code, T=%d) = (%d, %v), want (%d, true)", unix, step, ok, totp.Step(at, p))
						}
					})
					t.Run("T="+strconv.FormatInt(unix, 10)+"/oathtool accepts the next step's Code", func(t *testing.T) {
						next := totp.Code(secret, at.Add(time.Duration(p.Period)*time.Second), p)
						out, err := oathtool(t, path, secret, append(base, now, "--window=1", "-", next)...)
						if err != nil {
							t.Fatalf("oathtool refused Code of step+1 at T=%d: %v", unix, err)
						}
						if out != "1" {
							t.Errorf("oathtool matched window position %q, want \"1\"", out)
						}
					})
				}
			})
		}
	}
}

func TestQRCode(t *testing.T) {
	keys := []struct{ issuer, account string }{
		{"twofold", "alice@example.com"},
		{"Big Corp", "john doe"},
		{"A+B: Ops", "bob+tag:x@y.example"},
		{"Ünïcødé 株式会社", "josé@例え.jp"},
	}
	for _, k := range keys {
		uri := totp.URI(k.issuer, k.account, rfcKey1, totp.Default)
		img, err := totp.QRCode(uri)
		if err != nil {
			t.Fatalf("QRCode(%s): %v", uri, err)
		}
		t.Run(k.issuer, func(t *testing.T) { testQRImage(t, img, uri) })
	}
}

// testQRImage checks that img is a large enough PNG that zbarimg reads back as uri.
func testQRImage(t *testing.T, img []byte, uri string) {
	t.Run("is a PNG of at least 256 px", func(t *testing.T) {
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("png.DecodeConfig: %v", err)
		}
		if cfg.Width < 256 || cfg.Height < 256 {
			t.Errorf("size = %dx%d, want at least 256x256", cfg.Width, cfg.Height)
		}
	})
	t.Run("zbarimg decodes the exact URI", func(t *testing.T) {
		zbarimg := needTool(t, "zbarimg", "zbar-tools")
		file := filepath.Join(t.TempDir(), "qr.png")
		if err := os.WriteFile(file, img, 0o600); err != nil {
			t.Fatal(err)
		}
		// QR codes only: with every symbology on, zbarimg also reports a
		// Codabar it imagines in about one QR code in 2,000.
		out, err := exec.Command(zbarimg, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", file).Output()
		if err != nil {
			t.Fatalf("zbarimg: %v", err)
		}
		if got := strings.TrimSuffix(string(out), "\n"); got != uri {
			// Not printed: the URI holds the key.
			t.Errorf("zbarimg decoded %d bytes that differ from the URI's %d", len(got), len(uri))
		}
	})
}

func TestDataURI(t *testing.T) {
	if got, want := totp.DataURI([]byte("\x89PNG")), "data:image/png;base64,iVBORw=="; got != want {
		t.Errorf("DataURI = %q, want %q", got, want)
	}
}
