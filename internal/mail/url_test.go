package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/mail"
)

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]mail.SMTPConfig{
		"smtp://mail.example.com":           {Host: "mail.example.com", Port: 587, TLS: mail.TLSRequired, Timeout: mail.DefaultTimeout},
		"smtps://mail.example.com":          {Host: "mail.example.com", Port: 465, TLS: mail.TLSImplicit, Timeout: mail.DefaultTimeout},
		"smtp://mailpit:1025?starttls=none": {Host: "mailpit", Port: 1025, TLS: mail.TLSNone, Timeout: mail.DefaultTimeout},
		"smtp://u%40x:p%2Fw%3Ad@mail.example.com:2525?starttls=opportunistic&auth=LOGIN&timeout=10s": {
			Host: "mail.example.com", Port: 2525, TLS: mail.TLSOpportunistic, Username: "u@x", Password: "p/w:d", Auth: "login", Timeout: 10 * time.Second},
		"smtps://apikey:secret@[::1]:465/": {Host: "::1", Port: 465, TLS: mail.TLSImplicit, Username: "apikey", Password: "secret", Timeout: mail.DefaultTimeout},
	} {
		got, err := mail.ParseURL(raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", raw, err)
			continue
		}
		if got != want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", raw, got, want)
		}
	}
}

func TestParseURLRefusesWithoutShowingThePassword(t *testing.T) {
	for _, raw := range []string{
		"http://user:hunter2@mail.example.com",
		"smtp+tls://user:hunter2@mail.example.com",
		"mail.example.com:587",
		"smtp://user:hunter2@:587",
		"smtp://user:hunter2@mail.example.com:0",
		"smtp://user:hunter2@mail.example.com:99999",
		"smtp://user:hunter2@mail.example.com/path",
		"smtp://user:hunter2@mail.example.com?starttls=maybe",
		"smtps://user:hunter2@mail.example.com?starttls=required",
		"smtp://user:hunter2@mail.example.com?tls=yes",
		"smtp://user:hunter2@mail.example.com?auth=xoauth2",
		"smtp://mail.example.com?auth=plain",
		"smtp://user:hunter2@mail.example.com?timeout=2h",
		"smtp://user:hunter2@mail.example.com?timeout=soon",
		"smtp://user:hunter2@mail.example.com\x7f",
	} {
		_, err := mail.ParseURL(raw)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL(%q): the error shows the password: %v", raw, err)
		}
	}
}

func TestParseFrom(t *testing.T) {
	for _, ok := range []string{"ticketd <no-reply@localhost>", "no-reply@tickets.example.com", `"Acme, Inc." <a@b.example>`} {
		if _, err := mail.ParseFrom(ok); err != nil {
			t.Errorf("ParseFrom(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ticketd", "a@b.example, c@d.example", "ticketd <a@b.example>\r\nBcc: c@d.example", "<@>"} {
		if _, err := mail.ParseFrom(bad); err == nil {
			t.Errorf("ParseFrom(%q) accepted", bad)
		}
	}
}
