package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/ticketd-io/ticketd/internal/config"
)

// loopbackByDefault makes the servers listen on 127.0.0.1 unless BIND_ADDR
// says otherwise: `dev` and the simulator run with published keys, which
// must not be reachable from the network.
func loopbackByDefault(getenv func(string) string) func(string) string {
	return func(key string) string {
		if v := getenv(key); v != "" || key != "BIND_ADDR" {
			return v
		}
		return "127.0.0.1"
	}
}

// devEnv supplies the development defaults that `serve` refuses to assume:
// a platform API key, a JWT signing key, unless PAYSTACK_SECRET_KEY is set a
// Paystack simulator run in the process (its key and URL), unless SMTP_URL
// is set a mail sink run in the process, and no DRAIN_DELAY.
func devEnv(getenv func(string) string) func(string) string {
	simulated := getenv("PAYSTACK_SECRET_KEY") == ""
	return func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		switch key {
		case "PLATFORM_API_KEY":
			return config.DevPlatformAPIKey
		case "JWT_SECRET":
			return config.DevJWTSecret
		case "TICKET_SIGNING_SECRET":
			return config.DevTicketSigningSecret
		case "WAITING_ROOM_SECRET":
			return config.DevWaitingRoomSecret
		case "PAYSTACK_SECRET_KEY":
			return config.DevPaystackSecretKey
		case "SMTP_URL":
			return devSMTPURL(getenv)
		case "DRAIN_DELAY":
			return "0s" // no load balancer to wait for: Ctrl-C stops at once
		case "PAYSTACK_BASE_URL":
			if simulated {
				port := getenv("PAYSTACK_SIM_PORT")
				if port == "" {
					port = strconv.Itoa(DefaultSimPort)
				}
				return "http://127.0.0.1:" + port
			}
		}
		return ""
	}
}

// dev migrates the database, seeds it when it is empty, prints where to go,
// and runs the API and the worker in one process.
func dev(ctx context.Context, cfg config.Config, getenv func(string) string, stdout io.Writer) error {
	if err := migrate(ctx, cfg, []string{"up"}, stdout); err != nil {
		return err
	}
	if err := seed(ctx, cfg, stdout, true); err != nil {
		return err
	}
	key := "(the PLATFORM_API_KEY you set)"
	if cfg.PlatformAPIKey == config.DevPlatformAPIKey {
		key = cfg.PlatformAPIKey
	}
	base := fmt.Sprintf("http://%s:%d", cfg.PlatformDomain, cfg.Port)
	demo := fmt.Sprintf("http://demo.%s:%d", cfg.PlatformDomain, cfg.Port)
	metrics := base + "/metrics"
	if host, port, err := net.SplitHostPort(cfg.MetricsAddr); err == nil {
		if host == "" {
			host = cfg.PlatformDomain
		}
		metrics = "http://" + net.JoinHostPort(host, port) + "/metrics"
	}
	fmt.Fprintf(stdout, `
ticketd dev
  storefront     %[3]s/   (the demo organizer's shop: buy a ticket in the browser)
  console        %[3]s/admin   (organizer staff; the door's scanner at %[3]s/admin/checkin)
  sign in as     buyer   %[7]s / %[8]s
                 admin   %[4]s / %[5]s
                 door    %[9]s / %[10]s (CHECKIN)
  API docs       %[1]s/api/docs   (Postman collection: docs/postman/)
  metrics        %[6]s
  health         %[1]s/healthz   %[1]s/readyz
  platform key   %[2]s
  sign in as the demo admin from a script:
    curl -s -X POST %[3]s/v1/auth/signin -H 'Content-Type: application/json' \
      -d '{"email":"%[4]s","password":"%[5]s"}'
  create another organizer with its first admin:
    curl -s -X POST %[1]s/v1/platform/tenants \
      -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
      -d '{"slug":"acme","name":"Acme Events","currency":"NGN","admin":{"email":"admin@acme.test","password":"acme-admin-pass","name":"Acme Admin"}}'

`, base, key, demo, demoAdminEmail, demoAdminPassword, metrics, demoBuyerEmail, demoBuyerPassword, demoDoorEmail, demoDoorPassword)
	if cfg.PaystackSecretKey == config.DevPaystackSecretKey {
		s, err := loadSimSettings(cfg, getenv)
		if err != nil {
			return err
		}
		simDone, err := startSim(ctx, cfg, s, stdout)
		if err != nil {
			return err
		}
		go func() {
			if err := <-simDone; err != nil {
				newLogger(stdout, cfg.LogLevel).Error("the Paystack simulator stopped", "error", err.Error())
			}
		}()
		fmt.Fprintf(stdout, "  Paystack       simulator at %s (checkout pages open from authorizationUrl)\n\n", s.publicURL)
	}
	if cfg.SMTPURL == devSMTPURL(getenv) {
		s, err := loadDevMailSettings(getenv)
		if err != nil {
			return err
		}
		page, err := startDevMail(ctx, s, newLogger(stdout, cfg.LogLevel))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  mail           what ticketd sent: %s (SMTP sink on 127.0.0.1:%d; set SMTP_URL to send for real)\n\n", page, s.smtpPort)
	}
	a, err := openApp(ctx, cfg, stdout, "dev")
	if err != nil {
		return err
	}
	defer a.close()
	return a.serveAndWork(ctx)
}
