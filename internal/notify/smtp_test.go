package notify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/twofold-auth/twofold/internal/notify"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "twofold test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// received is one message the test SMTP server accepted.
type received struct {
	from, user string
	to         []string
	tls        bool
	data       []byte
}

// smtpServer is an in-process SMTP server that offers STARTTLS (or speaks
// TLS from the start) and AUTH PLAIN only over TLS.
type smtpServer struct {
	mu   sync.Mutex
	msgs []received
	addr string
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	cur  received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "mailer" || pass != "s3cret pass" {
			return errors.New("invalid credentials")
		}
		s.cur.user = user
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.cur = received{user: s.cur.user} }
func (s *smtpSession) Logout() error { return nil }

func startSMTP(t *testing.T, implicitTLS bool) (*smtpServer, *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	ts := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: ts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.AllowInsecureAuth = false
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var ln net.Listener
	var err error
	if implicitTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ts, pool
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// parsed is a delivered message's headers and decoded text body.
func parsed(t *testing.T, data []byte) (*mail.Message, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v", err)
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return m, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSMTP(t *testing.T) {
	msg := notify.Message{
		Channel: "email", To: "alice@example.com",
		Subject: "[twofold] Your account is locked – ünïcode",
		Body:    "Too many wrong codes.\nWhen: now\nIf it was not you, change your password.\n",
	}
	for _, tc := range []struct {
		name   string
		scheme string
		tls    bool
	}{
		{"DeliversOverSTARTTLSWithAuth", "smtp", false},
		{"DeliversOverImplicitTLSWithAuth", "smtps", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, pool := startSMTP(t, tc.tls)
			u := mustURL(t, tc.scheme+"://mailer:s3cret%20pass@"+srv.addr)
			s, err := notify.NewSMTP(u, "twofold <twofold@example.org>", notify.WithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Send(ctx, msg); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := srv.messages()
			if len(got) != 1 {
				t.Fatalf("server got %d messages, want 1", len(got))
			}
			r := got[0]
			if !r.tls {
				t.Errorf("message went over a connection without TLS")
			}
			if r.user != "mailer" {
				t.Errorf("authenticated user: got %q, want mailer", r.user)
			}
			if r.from != "twofold@example.org" || len(r.to) != 1 || r.to[0] != "alice@example.com" {
				t.Errorf("envelope: from %q to %v", r.from, r.to)
			}
			m, body := parsed(t, r.data)
			dec := new(mime.WordDecoder)
			subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
			if err != nil || subject != msg.Subject {
				t.Errorf("Subject: got %q (%v), want %q", subject, err, msg.Subject)
			}
			if from, _ := mail.ParseAddress(m.Header.Get("From")); from == nil || from.Address != "twofold@example.org" {
				t.Errorf("From: got %q", m.Header.Get("From"))
			}
			if to, _ := mail.ParseAddress(m.Header.Get("To")); to == nil || to.Address != "alice@example.com" {
				t.Errorf("To: got %q", m.Header.Get("To"))
			}
			if strings.TrimSpace(body) != strings.TrimSpace(msg.Body) {
				t.Errorf("body:\n got %q\nwant %q", body, msg.Body)
			}
			if m.Header.Get("Date") == "" || m.Header.Get("Message-Id") == "" {
				t.Errorf("Date or Message-ID missing")
			}
		})
	}
	t.Run("WrongPasswordFails", func(t *testing.T) {
		srv, pool := startSMTP(t, false)
		s, err := notify.NewSMTP(mustURL(t, "smtp://mailer:wrong@"+srv.addr), "twofold@example.org",
			notify.WithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), msg); err == nil {
			t.Fatalf("send with a wrong password succeeded")
		}
		if n := len(srv.messages()); n != 0 {
			t.Errorf("server got %d messages, want 0", n)
		}
	})
	t.Run("UntrustedCertificateFails", func(t *testing.T) {
		srv, _ := startSMTP(t, true)
		s, err := notify.NewSMTP(mustURL(t, "smtps://mailer:s3cret%20pass@"+srv.addr), "twofold@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), msg); err == nil {
			t.Fatalf("send to a server with an untrusted certificate succeeded")
		}
	})
	t.Run("BadRecipientIsPermanent", func(t *testing.T) {
		s, err := notify.NewSMTP(mustURL(t, "smtp://127.0.0.1:1"), "twofold@example.org")
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), notify.Message{Channel: "email", To: "not an address", Subject: "x", Body: "x"})
		if err == nil || !notify.IsPermanent(err) {
			t.Errorf("send to a bad address: got %v, want a permanent error", err)
		}
	})
}

// cramSession offers only CRAM-MD5 and records any response it receives.
type cramSession struct {
	smtpSession
	got *atomic.Bool
}

func (s *cramSession) AuthMechanisms() []string         { return []string{"CRAM-MD5"} }
func (s *cramSession) Auth(string) (sasl.Server, error) { return &cramServer{got: s.got}, nil }

type cramServer struct {
	got  *atomic.Bool
	sent bool
}

func (c *cramServer) Next(response []byte) ([]byte, bool, error) {
	if !c.sent {
		c.sent = true
		return []byte("<1.2@localhost>"), false, nil
	}
	c.got.Store(true) // the HMAC-MD5 of the password, crackable offline
	return nil, true, errors.New("no")
}

func TestSMTPCredentialsNeverWithoutTLS(t *testing.T) {
	// A server (or a network that strips STARTTLS) offering no TLS and a
	// challenge-response mechanism.
	var got atomic.Bool
	ts := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &cramSession{smtpSession: smtpSession{srv: ts, conn: c}, got: &got}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	s, err := notify.NewSMTP(mustURL(t, "smtp://mailer:s3cret%20pass@"+ln.Addr().String()), "twofold@example.org")
	if err != nil {
		t.Fatal(err)
	}
	msg := notify.Message{Channel: "email", To: "alice@example.com", Subject: "x", Body: "x"}
	if err := s.Send(context.Background(), msg); err == nil {
		t.Fatal("send with credentials over a connection without TLS succeeded")
	}
	if got.Load() {
		t.Fatal("the client answered an AUTH challenge over a connection without TLS")
	}
	if len(ts.messages()) != 0 {
		t.Error("a message was delivered")
	}

	t.Run("WithoutCredentialsMailStillFlows", func(t *testing.T) {
		// An unauthenticated relay without STARTTLS: opportunistic TLS, as SPEC §1 says.
		s, err := notify.NewSMTP(mustURL(t, "smtp://"+ln.Addr().String()), "twofold@example.org")
		if err != nil {
			t.Fatal(err)
		}
		// The test session refuses MAIL without AUTH, so the send fails at MAIL, after connecting in clear.
		err = s.Send(context.Background(), msg)
		if err == nil || strings.Contains(err.Error(), "TLS") {
			t.Errorf("unauthenticated relay: got %v, want a refusal at MAIL, not a TLS requirement", err)
		}
	})
}

func TestSMTPUntrustedCertificateOnSTARTTLSFails(t *testing.T) {
	srv, _ := startSMTP(t, false)
	s, err := notify.NewSMTP(mustURL(t, "smtp://mailer:s3cret%20pass@"+srv.addr), "twofold@example.org")
	if err != nil {
		t.Fatal(err)
	}
	msg := notify.Message{Channel: "email", To: "alice@example.com", Subject: "x", Body: "x"}
	if err := s.Send(context.Background(), msg); err == nil {
		t.Fatal("send over STARTTLS with an untrusted certificate succeeded")
	}
	if len(srv.messages()) != 0 {
		t.Error("a message was delivered")
	}
}
