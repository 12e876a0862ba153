package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ticketd-io/ticketd/internal/mail/mailsink"
)

// Where `ticketd dev` runs its mail sink unless DEV_SMTP_PORT and
// DEV_MAIL_PORT say otherwise: Mailpit's ports, which a developer may know.
const (
	DefaultDevSMTPPort = 1025
	DefaultDevMailPort = 8025
)

// devMailSettings are the dev mail sink's own variables.
type devMailSettings struct {
	smtpPort, pagePort int
}

func loadDevMailSettings(getenv func(string) string) (devMailSettings, error) {
	s := devMailSettings{smtpPort: DefaultDevSMTPPort, pagePort: DefaultDevMailPort}
	var errs []error
	for _, v := range []struct {
		name string
		dst  *int
	}{{"DEV_SMTP_PORT", &s.smtpPort}, {"DEV_MAIL_PORT", &s.pagePort}} {
		raw := getenv(v.name)
		if raw == "" {
			continue
		}
		p, err := strconv.Atoi(raw)
		if err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s must be a port number, not %q", v.name, raw))
			continue
		}
		*v.dst = p
	}
	return s, errors.Join(errs...)
}

// devSMTPURL is the SMTP_URL `ticketd dev` sets when none is given: its
// own sink, on loopback, in plain text.
func devSMTPURL(getenv func(string) string) string {
	s, err := loadDevMailSettings(getenv)
	if err != nil {
		s.smtpPort = DefaultDevSMTPPort // dev stops on the bad port before it sends anything
	}
	return fmt.Sprintf("smtp://127.0.0.1:%d?starttls=none", s.smtpPort)
}

// startDevMail runs the mail sink of `ticketd dev` until ctx is done: SMTP
// and the page listing what was sent, both on 127.0.0.1 only, whatever
// BIND_ADDR says (the page shows buyers' mail). It returns the page's URL.
func startDevMail(ctx context.Context, s devMailSettings, logger *slog.Logger) (string, error) {
	sink := mailsink.New(mailsink.Config{})
	smtpLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.smtpPort)))
	if err != nil {
		return "", fmt.Errorf("dev mail: listen for SMTP (DEV_SMTP_PORT): %w", err)
	}
	pageLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.pagePort)))
	if err != nil {
		_ = smtpLn.Close()
		return "", fmt.Errorf("dev mail: listen for its page (DEV_MAIL_PORT): %w", err)
	}
	page := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := sink.Serve(smtpLn); err != nil {
			logger.Error("the dev mail sink stopped", "error", err.Error())
		}
	}()
	go func() {
		if err := page.Serve(pageLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("the dev mail page stopped", "error", err.Error())
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = page.Shutdown(shutdown)
		_ = sink.Close()
	}()
	return fmt.Sprintf("http://localhost:%d", pageLn.Addr().(*net.TCPAddr).Port), nil
}
