package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
)

// DefaultSimPort is where `ticketd dev` and `ticketd paystack-sim` run the
// Paystack simulator unless PAYSTACK_SIM_PORT says otherwise.
const DefaultSimPort = 8081

// simSettings are the simulator's own variables (see README.md).
type simSettings struct {
	port       int
	publicURL  string
	webhookURL string
}

func loadSimSettings(cfg config.Config, getenv func(string) string) (simSettings, error) {
	s := simSettings{port: DefaultSimPort}
	if v := getenv("PAYSTACK_SIM_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return s, fmt.Errorf("PAYSTACK_SIM_PORT must be a port number, not %q", v)
		}
		s.port = p
	}
	s.publicURL = getenv("PAYSTACK_SIM_PUBLIC_URL")
	if s.publicURL == "" {
		s.publicURL = fmt.Sprintf("http://%s:%d", cfg.PlatformDomain, s.port)
	}
	s.webhookURL = getenv("PAYSTACK_SIM_WEBHOOK_URL")
	if s.webhookURL == "" {
		s.webhookURL = fmt.Sprintf("http://127.0.0.1:%d/v1/webhooks/paystack", cfg.Port)
	}
	return s, nil
}

// startSim serves a Paystack simulator until ctx is done. It accepts only
// cfg's secret key when one is set, any sk_test_ key otherwise.
func startSim(ctx context.Context, cfg config.Config, s simSettings, stdout io.Writer) (<-chan error, error) {
	logger := newLogger(stdout, cfg.LogLevel)
	sim := paystacksim.New(paystacksim.Config{
		SecretKey: cfg.PaystackSecretKey, PublicURL: s.publicURL, WebhookURL: s.webhookURL, Logger: logger,
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(s.port)))
	if err != nil {
		return nil, fmt.Errorf("paystack simulator: listen: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		sim.Close()
	}()
	logger.Info("paystack simulator listening", "addr", ln.Addr().String(), "publicURL", s.publicURL, "webhookURL", s.webhookURL)
	return done, nil
}

// paystackSim runs the simulator alone until ctx is done.
func paystackSim(ctx context.Context, cfg config.Config, getenv func(string) string, stdout io.Writer) error {
	s, err := loadSimSettings(cfg, getenv)
	if err != nil {
		return err
	}
	done, err := startSim(ctx, cfg, s, stdout)
	if err != nil {
		return err
	}
	return <-done
}
