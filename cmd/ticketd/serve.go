package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/authz"
	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/waitroom"
)

// serve runs the HTTP API until ctx is cancelled, then shuts down
// gracefully (see app.serve). When listening is not nil it receives the
// bound address once the server accepts connections.
func serve(ctx context.Context, cfg config.Config, stdout io.Writer, listening chan<- string) error {
	if err := cfg.RequireServeSecrets(); err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, stdout, "serve")
	if err != nil {
		return err
	}
	defer a.close()
	return a.serve(ctx, listening)
}

// serve runs the HTTP API of a until ctx is cancelled (SIGTERM), then shuts
// down without losing a request, in the order a rolling restart needs:
//
//  1. drain: /readyz fails at once, so that load balancers and the
//     Kubernetes endpoints stop routing here, while every other request is
//     still served (on connections the responses close) for
//     cfg.DrainDelay, the time they take to notice;
//  2. shut down: the listener closes, idle keep-alive connections are
//     closed, and the requests in flight get cfg.ShutdownTimeout to finish;
//  3. the internal listeners (metrics, pprof) stop when serve returns, and
//     the caller closes Postgres and Redis after that: nothing in flight
//     loses its connections.
func (a *app) serve(ctx context.Context, listening chan<- string) error {
	cfg, logger, db, rdb := a.cfg, a.logger, a.db, a.rdb
	tokens, err := auth.NewTokens(auth.TokenConfig{
		Secret: cfg.JWTSecret, PreviousSecrets: cfg.JWTPreviousSecrets,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.JWTExpiresIn,
	})
	if err != nil {
		return err
	}
	enforcer, err := authz.New()
	if err != nil {
		return err
	}
	metrics := a.metrics
	signer, err := waitroom.NewSigner(cfg.WaitingRoomSecret)
	if err != nil {
		return fmt.Errorf("WAITING_ROOM_SECRET: %w", err)
	}
	rooms := waitroom.New(postgres.NewWaitingRoomStore(db), waitroom.NewQueue(rdb.UniversalClient, rdb.Prefix), signer, a.bookings, metrics, logger,
		waitroom.Config{AutoMinPerMinute: cfg.WaitingRoomAutoMinPerMinute, AutoMaxPerMinute: cfg.WaitingRoomAutoMaxPerMinute, CacheTTL: cfg.SaleCacheTTL})
	sessions := postgres.NewSessionService(db, a.hasher, cfg.RefreshTokenTTL)
	revocations := rdb.Sessions(cfg.SessionCheckTTL, sessions, tokens.TTL()+auth.Leeway)
	// Every instance's caches hear of the changes the others commit.
	caches := rdb.Invalidations(logger, metrics)
	a.bookings.Share(caches)
	rooms.Share(caches)
	revocations.Share(caches)
	tickets := a.tickets
	srv, err := httpapi.New(httpapi.Config{
		PlatformDomain:     cfg.PlatformDomain,
		PlatformAPIKey:     cfg.PlatformAPIKey,
		TrustedProxies:     cfg.TrustedProxies,
		MaxConns:           cfg.HTTPMaxConns,
		TenantCacheTTL:     cfg.TenantCacheTTL,
		CookieSecure:       cfg.CookieSecure,
		AuthRateLimitIP:    cfg.AuthRateLimitIP,
		AuthRateLimitEmail: cfg.AuthRateLimitEmail,
		Version:            version,
		PaystackSecretKey:  cfg.PaystackSecretKey,
		PaystackWebhookIPs: cfg.PaystackWebhookIPs,
		StorefrontURL:      cfg.StorefrontURL,
		SeatMapRefresh:     cfg.SeatMapRefresh,
		SeatMapCacheBytes:  int64(cfg.SeatMapCacheMB) << 20,
		MetricsElsewhere:   cfg.MetricsAddr != "",

		BookingRateLimitUser: cfg.BookingRateLimitUser,
		BookingRateLimitIP:   cfg.BookingRateLimitIP,

		WaitingRoomJoinLimitIP: cfg.WaitingRoomJoinLimitIP,
	}, httpapi.Deps{
		Tenants:      a.tenants,
		Users:        postgres.NewUserService(db, a.hasher),
		Venues:       postgres.NewVenueService(db),
		Events:       postgres.NewEventService(db),
		Bookings:     a.bookings,
		Stock:        a.bookings,
		Sessions:     sessions,
		Revocations:  revocations,
		Caches:       caches,
		Tokens:       tokens,
		Authz:        enforcer,
		AuthLimiter:  rdb.NewRateLimiter("auth", cfg.AuthRateLimitWindow),
		SigninGuard:  rdb.NewSigninGuard(cfg.AuthRateLimitEmail, cfg.AuthRateLimitEmail, cfg.AuthRateLimitWindow),
		Payments:     a.payments,
		Tickets:      tickets,
		Checkins:     tickets,
		TicketSigner: a.signer,
		Refunds:      a.payments,
		PaymentInbox: a.paystore,
		PaymentQueue: a.tasks,
		Ready: map[string]func(context.Context) error{
			"postgres": db.Ping,
			"redis":    rdb.Ready,
		},
		Optional: readyOptional(db),
		Metrics:  metrics,
		Logger:   logger,
		Tracing:  a.tracing.Provider(),

		BookingLimiter: rdb.NewRateLimiter("booking", cfg.BookingRateLimitWindow),

		WaitingRooms:       rooms,
		WaitingRoomLimiter: rdb.NewRateLimiter("waitroom", cfg.WaitingRoomJoinLimitWindow),
	})
	if err != nil {
		return err
	}

	// The internal listeners stop when serve returns, whichever way it
	// ends: after the API has drained, so that the drain can be watched.
	internal, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	invalidating := make(chan struct{})
	go func() { defer close(invalidating); caches.Run(internal) }()
	defer func() { stop(); <-invalidating }() // before the app closes Redis
	if cfg.MetricsAddr != "" {
		if _, err := serveInternal(internal, "metrics", cfg.MetricsAddr, metricsMux(metrics), logger); err != nil {
			return err
		}
	}
	if cfg.PprofAddr != "" {
		if _, err := serveInternal(internal, "pprof", cfg.PprofAddr, pprofMux(), logger); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln = newSteadyListener(ln, cfg.HTTPMaxConnsPerIP, logger)
	served := make(chan error, 1)
	go func() { served <- srv.App().Listener(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())
	if listening != nil {
		listening <- ln.Addr().String()
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	srv.Drain()
	logger.Info("draining: /readyz fails, requests are still served", "drainDelay", cfg.DrainDelay.String())
	drained := time.NewTimer(cfg.DrainDelay)
	defer drained.Stop()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-drained.C:
	}
	logger.Info("shutting down: the listener is closed, waiting for the requests in flight", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown: requests still in flight after SHUTDOWN_TIMEOUT (%s)", cfg.ShutdownTimeout)
		}
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// readyOptional are the checks of /readyz that do not fail it: the read
// replica's, when there is one, since only the public browsing reads it and
// it reads the primary while the replica does not answer.
func readyOptional(db *postgres.DB) map[string]func(context.Context) error {
	if db.Read == nil {
		return nil
	}
	return map[string]func(context.Context) error{"postgres read replica": db.PingRead}
}

// serveInternal serves h on addr until ctx is done, on a listener of its
// own that no ingress routes to, and returns the bound address. A failure to
// listen is returned, so that a mistyped or taken address stops the start
// instead of hiding in the log.
func serveInternal(ctx context.Context, name, addr string, h http.Handler, logger *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s: listen: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	logger.Info(name+" listening", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error(name, "error", err.Error())
		}
	}()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return ln.Addr().String(), nil
}

// metricsMux serves GET /metrics, for Prometheus.
func metricsMux(m *telemetry.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// pprofMux serves the Go profiler (PPROF_ADDR, loopback only): profile
// before optimising.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}

// newLogger writes JSON lines at level and above.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
