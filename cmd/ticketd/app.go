package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

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
}

// openApp connects to Postgres (refusing a role that could bypass
// row-level security) and Redis, and builds the services.
func openApp(ctx context.Context, cfg config.Config, stdout io.Writer, command string) (*app, error) {
	logger := newLogger(stdout, cfg.LogLevel)
	logger.Info("starting", "command", command, "version", version, "config", cfg)
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	if err := db.CheckRuntimeRole(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("refusing to start: %w", err)
	}
	rdb, err := redis.Open(ctx, cfg.RedisURL, cfg.RedisKeyPrefix)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &app{cfg: cfg, logger: logger, db: db, rdb: rdb, hasher: auth.DefaultHasher()}
	a.tenants = postgres.NewTenantService(db, a.hasher)
	a.metrics = telemetry.New(version)
	a.metrics.RegisterPool(db.Pool)
	store := postgres.NewBookingStore(db)
	store.ObserveCommits(a.metrics.ObserveBookingCommit)
	a.stock = inventory.New(rdb.Client, rdb.Prefix, store)
	a.tasks = worker.NewClient(rdb.Client, cfg.WorkerQueue)
	a.bookings = booking.New(store, a.stock, a.tasks, logger, cfg.SaleCacheTTL)
	if cfg.PaystackSecretKey == "" {
		logger.Warn("PAYSTACK_SECRET_KEY is not set: payments will fail and webhooks will be refused")
	}
	a.paystore = postgres.NewPaymentStore(db)
	a.payments = payment.New(paystack.New(cfg.PaystackBaseURL, cfg.PaystackSecretKey), a.paystore, a.stock, a.tasks,
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

func (a *app) close() {
	_ = a.rdb.Close()
	a.db.Close()
}

// work processes background tasks until ctx is done.
func (a *app) work(ctx context.Context) error {
	return worker.Run(ctx, a.rdb.Client, a.observedWorkerConfig(nil), a.workerHandlers(), a.tasks)
}

func (a *app) workerConfig() worker.Config {
	return worker.Config{Queue: a.cfg.WorkerQueue, Concurrency: a.cfg.WorkerConcurrency, MailConcurrency: a.cfg.MailConcurrency,
		SweepInterval: a.cfg.SweepInterval, ReconcileInterval: a.cfg.ReconcileInterval}
}

func (a *app) workerHandlers() *worker.Handlers {
	return &worker.Handlers{
		Bookings: a.bookings, Payments: a.payments, References: a.paystore, Tenants: a.tenants, Client: a.tasks,
		Logger: a.logger, StaleAfter: a.cfg.PaymentStaleAfter, LookBack: a.cfg.PaymentLookBack,
		Mail: a.postman, MailSweepAfter: mailSweepAfter,
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
