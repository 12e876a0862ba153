package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/booking"
	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/payment"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/ticketpdf"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// app holds the connections and services every long-running command
// shares: serve, work and dev.
type app struct {
	cfg      config.Config
	logger   *slog.Logger
	db       *postgres.DB
	rdb      *redis.Client
	hasher   auth.Hasher
	tenants  *postgres.TenantService
	stock    *inventory.Store
	bookings *booking.Service
	payments *payment.Service
	paystore *postgres.PaymentStore
	tasks    *worker.Client
	metrics  *telemetry.Metrics
	postman  *mail.Postman
	// signer signs tickets' QR payloads; tickets serves tickets and
	// check-in.
	signer  *checkin.Signer
	tickets *postgres.TicketService
	// tracing exports the spans of every component; nil when tracing is
	// off, and then nothing is instrumented.
	tracing *telemetry.Tracing
}

// tracingFlushTimeout bounds the export of the spans still buffered when
// the process stops.
const tracingFlushTimeout = 5 * time.Second

// openApp connects to Postgres (refusing a role that could bypass
// row-level security) and Redis, and builds the services, traced when an
// OTLP endpoint is configured.
func openApp(ctx context.Context, cfg config.Config, stdout io.Writer, command string) (*app, error) {
	tcfg := cfg.Tracing
	tcfg.ServiceName = cmp.Or(tcfg.ServiceName, serviceName(command))
	tracing, err := telemetry.NewTracing(ctx, tcfg, version)
	if err != nil {
		return nil, err
	}
	a, err := openTracedApp(ctx, cfg, stdout, command, tracing)
	if err != nil {
		shutdownTracing(tracing, nil)
		return nil, err
	}
	if tracing != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			a.logger.Warn("exporting spans", "error", err.Error())
		}))
	}
	a.logger.Info("tracing", "tracing", tcfg)
	return a, nil
}

// serviceName is the OTEL_SERVICE_NAME of a command, unless one is set.
func serviceName(command string) string {
	switch command {
	case "serve":
		return "ticketd-api"
	case "work":
		return "ticketd-worker"
	}
	return "ticketd"
}

// openTracedApp is openApp with tracing given: nil for none, or a test's.
func openTracedApp(ctx context.Context, cfg config.Config, stdout io.Writer, command string, tracing *telemetry.Tracing) (*app, error) {
	logger := newLogger(stdout, cfg.LogLevel)
	var (
		dbOpts       = poolOptions(cfg)
		paystackOpts []paystack.Option
	)
	tp := tracing.Provider()
	if tp != nil {
		logger = slog.New(telemetry.TraceLogHandler(logger.Handler()))
		dbOpts = append(dbOpts, postgres.WithTracing(tp))
		paystackOpts = append(paystackOpts, paystack.WithTracing(tp))
	}
	logger.Info("starting", "command", command, "version", version, "config", cfg)
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns, dbOpts...)
	if err != nil {
		return nil, err
	}
	if err := db.CheckRuntimeRole(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("refusing to start: %w", err)
	}
	if cfg.DatabaseReadURL != "" {
		if err := openReadReplica(ctx, cfg, db, dbOpts, logger); err != nil {
			db.Close()
			return nil, err
		}
	}
	rdb, err := redis.Open(ctx, cfg.RedisURL, cfg.RedisKeyPrefix)
	if err != nil {
		db.Close()
		return nil, err
	}
	if tp != nil {
		if err := rdb.Trace(tp); err != nil {
			_ = rdb.Close()
			db.Close()
			return nil, err
		}
	}
	a := &app{cfg: cfg, logger: logger, db: db, rdb: rdb, hasher: auth.DefaultHasher(), tracing: tracing}
	a.tenants = postgres.NewTenantService(db, a.hasher)
	a.metrics = telemetry.New(version)
	a.metrics.RegisterPool(db.Pool)
	if db.Read != nil {
		a.metrics.RegisterReadReplica(db.ReadReplicaUp, db.ReadFallbacks)
	}
	store := postgres.NewBookingStore(db)
	store.ObserveCommits(a.metrics.ObserveBookingCommit)
	a.stock = inventory.New(rdb.UniversalClient, rdb.Prefix, store)
	a.tasks = worker.NewClient(rdb.UniversalClient, cfg.WorkerQueue)
	if tp != nil {
		a.tasks.Trace(tp)
	}
	a.bookings = booking.New(store, a.stock, a.tasks, logger, cfg.SaleCacheTTL)
	a.bookings.SetMaxOpenHolds(cfg.BookingMaxOpenHolds)
	if cfg.PaystackSecretKey == "" {
		logger.Warn("PAYSTACK_SECRET_KEY is not set: payments will fail and webhooks will be refused")
	}
	a.paystore = postgres.NewPaymentStore(db)
	a.payments = payment.New(paystack.New(cfg.PaystackBaseURL, cfg.PaystackSecretKey, paystackOpts...), a.paystore, a.stock, a.tasks,
		logger, a.metrics, payment.Config{PublicURL: cfg.PublicURL})
	sender, err := newSender(cfg, logger)
	if err != nil {
		a.close()
		return nil, err
	}
	a.postman = mail.NewPostman(postgres.NewMailStore(db), sender, logger)
	// Commands that neither serve nor send mail (inventory) run without it.
	if cfg.TicketSigningSecret != "" {
		if a.signer, err = checkin.NewSigner(cfg.TicketSigningSecret); err != nil {
			a.close()
			return nil, fmt.Errorf("TICKET_SIGNING_SECRET: %w", err)
		}
		a.tickets = postgres.NewTicketService(db, publicKeys(a.signer))
		a.postman.Attach(ticketing.MailBookingConfirmed, a.ticketsPDF)
	}
	return a, nil
}

// openReadReplica opens the pool of DATABASE_READ_URL. A replica that does
// not answer does not stop the start: the public browsing it serves reads
// the primary until it answers (postgres.DB.ReadInTenant). One that
// answers as a role that row-level security would not bind does.
func openReadReplica(ctx context.Context, cfg config.Config, db *postgres.DB, opts []postgres.Option, logger *slog.Logger) error {
	if err := db.OpenRead(ctx, cfg.DatabaseReadURL, cfg.DBMaxConns, opts...); err != nil {
		return err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	switch err := db.PingRead(pingCtx); {
	case errors.Is(err, postgres.ErrUnsafeRole):
		return fmt.Errorf("refusing to start: %w", err)
	case err != nil:
		logger.Warn("DATABASE_READ_URL does not answer: public browsing reads DATABASE_URL until it does", "error", err.Error())
	}
	return nil
}

// poolOptions are the options of the pools of DATABASE_URL and
// DATABASE_READ_URL that DATABASE_POOL_MODE asks for.
func poolOptions(cfg config.Config) []postgres.Option {
	if cfg.DatabasePoolMode == config.PoolModeTransaction {
		return []postgres.Option{postgres.TransactionPooling()}
	}
	return nil
}

// newSender sends mail through SMTP_URL, or only logs it when that is not
// set (said once at start, so an operator knows).
func newSender(cfg config.Config, logger *slog.Logger) (mail.Sender, error) {
	if cfg.SMTPURL == "" {
		logger.Warn("SMTP_URL is not set: mail to buyers is logged, not sent")
		return mail.NewLogSender(logger), nil
	}
	smtp, err := mail.ParseURL(cfg.SMTPURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL %w", err)
	}
	return mail.NewSMTPSender(smtp, cfg.MailFrom)
}

// mailSweepAfter is how long the sweep leaves a mail to the task enqueued
// with its confirmation before enqueueing it itself.
const mailSweepAfter = 30 * time.Second

// close flushes the spans still buffered, for at most
// tracingFlushTimeout, and closes the connections.
func (a *app) close() {
	shutdownTracing(a.tracing, a.logger)
	_ = a.rdb.Close()
	a.db.Close()
}

// shutdownTracing exports the spans still buffered and stops tracing; a
// failure is logged when there is a logger.
func shutdownTracing(t *telemetry.Tracing, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil && logger != nil {
		logger.Warn("flushing spans", "error", err.Error())
	}
}

// work processes background tasks until ctx is done.
func (a *app) work(ctx context.Context) error {
	return worker.Run(ctx, a.rdb.UniversalClient, a.observedWorkerConfig(nil), a.workerHandlers(), a.tasks)
}

func (a *app) workerConfig() worker.Config {
	return worker.Config{Queue: a.cfg.WorkerQueue, Concurrency: a.cfg.WorkerConcurrency, MailConcurrency: a.cfg.MailConcurrency,
		SweepInterval: a.cfg.SweepInterval, ReconcileInterval: a.cfg.ReconcileInterval, ShutdownTimeout: a.cfg.ShutdownTimeout}
}

func (a *app) workerHandlers() *worker.Handlers {
	return &worker.Handlers{
		Bookings: a.bookings, Payments: a.payments, References: a.paystore, Tenants: a.tenants, Client: a.tasks,
		Logger: a.logger, StaleAfter: a.cfg.PaymentStaleAfter, LookBack: a.cfg.PaymentLookBack,
		Mail: a.postman, MailSweepAfter: mailSweepAfter, Tracing: a.tracing.Provider(),
	}
}

// ticketsPDF attaches a confirmed booking's tickets to its mail.
func (a *app) ticketsPDF(ctx context.Context, bookingID string) ([]mail.Attachment, error) {
	pdf, err := ticketpdf.Booking(ctx, a.tickets, a.signer, bookingID, time.Now())
	if err != nil {
		return nil, err
	}
	return []mail.Attachment{{Filename: "tickets.pdf", ContentType: "application/pdf", Data: pdf}}, nil
}

// publicKeys adapts the signer to what the ticket store publishes.
func publicKeys(s *checkin.Signer) postgres.PublicKeys {
	return func(tenantID string, version int) []byte { return s.PublicKey(tenantID, version) }
}
