package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/mail/mailsink"
)

const (
	buyer = "buyer@example.com"
	from  = "ticketd <no-reply@tickets.example.com>"
)

// startSink runs a mail sink on a loopback port for the test and returns
// it with the SMTP settings that reach it in plain text.
func startSink(t *testing.T, cfg mailsink.Config) (*mailsink.Sink, mail.SMTPConfig) {
	t.Helper()
	sink := mailsink.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sink.Serve(ln) }()
	t.Cleanup(func() {
		_ = sink.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return sink, mail.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: mail.TLSNone, Timeout: 10 * time.Second}
}

func sender(t *testing.T, cfg mail.SMTPConfig) *mail.SMTPSender {
	t.Helper()
	s, err := mail.NewSMTPSender(cfg, from)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func message() *mail.Message {
	return &mail.Message{
		To: buyer, ToName: "Adé Buyer",
		Subject: "Booking confirmed: Fête de la Musique",
		Text:    "Hello Adé,\n\nYour booking is confirmed.\n",
		HTML:    "<p>Hello Adé,</p><p>Your booking is confirmed.</p>",
		Attachments: []mail.Attachment{{Filename: "tickets.pdf", ContentType: "application/pdf",
			Data: append([]byte("%PDF-1.7\n"), 0, 1, 2, 255, '\r', '\n', '.', '\n')}},
	}
}

// TestSMTPSendDeliversHeadersBodiesAndAttachment holds a real SMTP
// conversation with an in-process server and reads back what it received.
func TestSMTPSendDeliversHeadersBodiesAndAttachment(t *testing.T) {
	t.Parallel()
	sink, cfg := startSink(t, mailsink.Config{})
	m := message()
	if err := sender(t, cfg).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	got := sink.Mails()
	if len(got) != 1 {
		t.Fatalf("%d mails received, want 1", len(got))
	}
	r := got[0]
	if r.From != "no-reply@tickets.example.com" || len(r.To) != 1 || r.To[0] != buyer {
		t.Errorf("envelope from %q to %q", r.From, r.To)
	}
	if r.Subject != m.Subject {
		t.Errorf("subject %q, want %q", r.Subject, m.Subject)
	}
	if h := r.Header.Get("From"); !strings.Contains(h, "<no-reply@tickets.example.com>") || !strings.Contains(h, "ticketd") {
		t.Errorf("From: %q", h)
	}
	if to, err := r.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != buyer || to[0].Name != "Adé Buyer" {
		t.Errorf("To: %q (%v)", r.Header.Get("To"), err)
	}
	for _, h := range []string{"Message-Id", "Date", "Mime-Version"} {
		if r.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if r.Text != m.Text && strings.ReplaceAll(r.Text, "\r\n", "\n") != m.Text {
		t.Errorf("text body %q, want %q", r.Text, m.Text)
	}
	if !strings.Contains(r.HTML, "<p>Your booking is confirmed.</p>") {
		t.Errorf("HTML body %q", r.HTML)
	}
	if len(r.Attachments) != 1 {
		t.Fatalf("%d attachments, want 1", len(r.Attachments))
	}
	a := r.Attachments[0]
	if a.Filename != "tickets.pdf" || a.ContentType != "application/pdf" || !bytes.Equal(a.Data, m.Attachments[0].Data) {
		t.Errorf("attachment %q %q %q", a.Filename, a.ContentType, a.Data)
	}
}

func TestSMTPAuthenticatesWhenConfigured(t *testing.T) {
	t.Parallel()
	sink, cfg := startSink(t, mailsink.Config{Username: "ticketd", Password: "s3cret pass"})
	cfg.Username, cfg.Password, cfg.Auth = "ticketd", "s3cret pass", "plain"
	if err := sender(t, cfg).Send(t.Context(), message()); err != nil {
		t.Fatal(err)
	}
	if got := sink.Mails(); len(got) != 1 || got[0].User != "ticketd" {
		t.Fatalf("received %+v, want one mail from the authenticated user", got)
	}

	for name, c := range map[string]mail.SMTPConfig{
		"wrongPassword":  {Host: cfg.Host, Port: cfg.Port, TLS: mail.TLSNone, Username: "ticketd", Password: "nope", Auth: "plain"},
		"noCredentials":  {Host: cfg.Host, Port: cfg.Port, TLS: mail.TLSNone},
		"noPlainInClear": {Host: cfg.Host, Port: cfg.Port, TLS: mail.TLSNone, Username: "ticketd", Password: "s3cret pass"},
	} {
		err := sender(t, c).Send(t.Context(), message())
		if err == nil || errors.Is(err, mail.ErrPermanent) {
			t.Errorf("%s: %v, want an error that a retry may pass (the configuration may be fixed)", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
	if n := len(sink.Mails()); n != 1 {
		t.Fatalf("%d mails received, want only the authenticated one", n)
	}
}

// TestSMTPRefusalsAreRetriedOrNot: what the server says about the
// recipient decides whether sending again can help.
func TestSMTPRefusalsAreRetriedOrNot(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		refusal   *smtp.SMTPError
		permanent bool
	}{
		"451tryLater":      {&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}, false},
		"452mailboxFull":   {&smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "<" + buyer + "> mailbox full"}, false},
		"550noSuchUser":    {&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + buyer + ">: no such user"}, true},
		"553badAddress":    {&smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad recipient address syntax"}, true},
		"550relayDenied":   {&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"}, false},
		"550noEnhancement": {&smtp.SMTPError{Code: 550, EnhancedCode: smtp.NoEnhancedCode, Message: "no such user here"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sink, cfg := startSink(t, mailsink.Config{Reject: func(string) error { return tc.refusal }})
			err := sender(t, cfg).Send(t.Context(), message())
			if err == nil {
				t.Fatal("sent")
			}
			if got := errors.Is(err, mail.ErrPermanent); got != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", got, tc.permanent, err)
			}
			if strings.Contains(err.Error(), buyer) {
				t.Errorf("the error shows the recipient's address: %v", err)
			}
			if n := len(sink.Mails()); n != 0 {
				t.Errorf("%d mails received", n)
			}
		})
	}
}

func TestSMTPUnreachableOrWithoutTLSIsRetried(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	sink, cfg := startSink(t, mailsink.Config{})
	required := cfg
	required.TLS = mail.TLSRequired
	for name, c := range map[string]mail.SMTPConfig{
		"connectionRefused":  {Host: "127.0.0.1", Port: closed, TLS: mail.TLSNone, Timeout: 5 * time.Second},
		"startTLSNotOffered": required,
		"implicitTLSOnPlain": {Host: cfg.Host, Port: cfg.Port, TLS: mail.TLSImplicit, Timeout: 5 * time.Second},
	} {
		err := sender(t, c).Send(t.Context(), message())
		if err == nil || errors.Is(err, mail.ErrPermanent) {
			t.Errorf("%s: %v, want an error a retry may pass", name, err)
		}
	}
	if n := len(sink.Mails()); n != 0 {
		t.Fatalf("%d mails went out without the TLS asked for", n)
	}
	opportunistic := cfg
	opportunistic.TLS = mail.TLSOpportunistic
	if err := sender(t, opportunistic).Send(t.Context(), message()); err != nil {
		t.Fatalf("opportunistic STARTTLS to a server without it: %v", err)
	}
}

// TestInvalidMessagesAreRefusedBeforeSending: nothing from a message can
// add a header, and its sizes are bounded.
func TestInvalidMessagesAreRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	sink, cfg := startSink(t, mailsink.Config{})
	s := sender(t, cfg)
	for name, change := range map[string]func(m *mail.Message){
		"subjectCRLF":       func(m *mail.Message) { m.Subject = "Hi\r\nBcc: victim@example.org" },
		"subjectLF":         func(m *mail.Message) { m.Subject = "Hi\nBcc: victim@example.org" },
		"subjectEmpty":      func(m *mail.Message) { m.Subject = " " },
		"subjectLong":       func(m *mail.Message) { m.Subject = strings.Repeat("x", mail.MaxSubjectRunes+1) },
		"toCRLF":            func(m *mail.Message) { m.To = buyer + "\r\nBcc: victim@example.org" },
		"toTwo":             func(m *mail.Message) { m.To = buyer + ", victim@example.org" },
		"toWithName":        func(m *mail.Message) { m.To = "Buyer <" + buyer + ">" },
		"toNoDomain":        func(m *mail.Message) { m.To = "buyer" },
		"nameCR":            func(m *mail.Message) { m.ToName = "Ada\rBcc: victim@example.org" },
		"textEmpty":         func(m *mail.Message) { m.Text = "" },
		"textHuge":          func(m *mail.Message) { m.Text = strings.Repeat("x", mail.MaxBodyBytes+1) },
		"htmlInvalidUTF8":   func(m *mail.Message) { m.HTML = "\xff" },
		"filenameLF":        func(m *mail.Message) { m.Attachments[0].Filename = "a\n.pdf" },
		"filenamePath":      func(m *mail.Message) { m.Attachments[0].Filename = "../a.pdf" },
		"contentTypeCRLF":   func(m *mail.Message) { m.Attachments[0].ContentType = "application/pdf\r\nBcc: x@example.org" },
		"contentTypeBad":    func(m *mail.Message) { m.Attachments[0].ContentType = "pdf" },
		"tooManyAttached":   func(m *mail.Message) { m.Attachments = make([]mail.Attachment, mail.MaxAttachments+1) },
		"attachmentsTooBig": func(m *mail.Message) { m.Attachments[0].Data = make([]byte, mail.MaxAttachmentBytes+1) },
	} {
		m := message()
		change(m)
		if err := s.Send(t.Context(), m); !errors.Is(err, mail.ErrPermanent) {
			t.Errorf("%s: %v, want a permanent refusal", name, err)
		}
	}
	if n := len(sink.Mails()); n != 0 {
		t.Fatalf("%d invalid mails went out", n)
	}
}

func TestLogSenderLogsWithoutTheAddress(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := mail.NewLogSender(slog.New(slog.NewJSONHandler(&logs, nil)))
	m := message()
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Contains(out, buyer) || strings.Contains(out, "buyer@") {
		t.Errorf("the log shows the recipient: %s", out)
	}
	for _, want := range []string{`"to":"b***@example.com"`, `"subject":"Booking confirmed: Fête de la Musique"`, `"level":"INFO"`, `"bytes":`, `SMTP_URL`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s: %s", want, out)
		}
	}
	if s.Via() != "log" {
		t.Errorf("via %q", s.Via())
	}
	bad := message()
	bad.Subject = "x\r\nBcc: y@example.org"
	if err := s.Send(context.Background(), bad); !errors.Is(err, mail.ErrPermanent) {
		t.Errorf("the log sender took an invalid message: %v", err)
	}
}

func TestMaskAddress(t *testing.T) {
	for in, want := range map[string]string{
		"buyer@example.com": "b***@example.com",
		"é@example.com":     "é***@example.com",
		"nobody":            "***",
		"@example.com":      "***",
	} {
		if got := mail.MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
