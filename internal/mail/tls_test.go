package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/mail/mailsink"
)

// testCert is a self-signed certificate for 127.0.0.1, and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ticketd test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestSMTPOverTLSAuthenticatesWithTheStrongestMechanism: STARTTLS (the
// default of smtp://) and TLS from the first byte (smtps://), with the
// server's certificate verified and the password sent only once encrypted.
func TestSMTPOverTLSAuthenticatesWithTheStrongestMechanism(t *testing.T) {
	t.Parallel()
	cert, roots := testCert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	trusting := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}

	for name, implicit := range map[string]bool{"starttls": false, "implicit": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sink := mailsink.New(mailsink.Config{Username: "ticketd", Password: "s3cret", TLSConfig: serverTLS})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			cfg := mail.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: mail.TLSRequired,
				Username: "ticketd", Password: "s3cret", Timeout: 10 * time.Second, TLSConfig: trusting}
			if implicit {
				ln, cfg.TLS = tls.NewListener(ln, serverTLS), mail.TLSImplicit
			}
			done := make(chan error, 1)
			go func() { done <- sink.Serve(ln) }()
			t.Cleanup(func() {
				_ = sink.Close()
				<-done
			})

			if err := sender(t, cfg).Send(t.Context(), message()); err != nil {
				t.Fatal(err)
			}
			got := sink.Mails()
			if len(got) != 1 {
				t.Fatalf("%d mails received, want 1", len(got))
			}
			if !got[0].TLS || got[0].User != "ticketd" {
				t.Fatalf("mail over TLS %v from %q, want over TLS from the authenticated user", got[0].TLS, got[0].User)
			}

			untrusted := cfg
			untrusted.TLSConfig = nil // the system's roots do not know the test certificate
			if err := sender(t, untrusted).Send(t.Context(), message()); err == nil || errors.Is(err, mail.ErrPermanent) {
				t.Errorf("an unverified certificate: %v, want an error a retry may pass", err)
			}
			if n := len(sink.Mails()); n != 1 {
				t.Errorf("%d mails received, want only the verified one", n)
			}
		})
	}
}
