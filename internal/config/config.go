// Package config reads ticketd's configuration from environment variables,
// applies defaults that work on a developer machine, and validates it.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/redact"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/telemetry"
)

// Defaults that work on a developer machine with Postgres and Redis local.
const (
	DefaultMigrationsDatabaseURL = "postgres://postgres@127.0.0.1:5432/ticketing?sslmode=disable"
	DefaultRedisURL              = "redis://127.0.0.1:6379/0"
	DefaultAppRole               = "ticketing_app"
	// PoolModeSession and PoolModeTransaction are the values of
	// DATABASE_POOL_MODE, named after PgBouncer's pool_mode.
	PoolModeSession     = "session"
	PoolModeTransaction = "transaction"
	// DevPlatformAPIKey and DevJWTSecret are what `ticketd dev` uses when
	// PLATFORM_API_KEY and JWT_SECRET are unset. `ticketd serve` never falls
	// back to them.
	DevPlatformAPIKey = "dev-platform-key-change-me"
	DevJWTSecret      = "dev-jwt-secret-change-me-0123456789abcdef"
	// DevTicketSigningSecret is what `ticketd dev` derives the organizers'
	// check-in keys from when TICKET_SIGNING_SECRET is unset.
	DevTicketSigningSecret = "dev-ticket-signing-secret-change-me-0123456789"
	// DevWaitingRoomSecret is what `ticketd dev` signs waiting room tokens
	// with when WAITING_ROOM_SECRET is unset.
	DevWaitingRoomSecret = "dev-waiting-room-secret-change-me-0123456789"
	// DevPaystackSecretKey is the key `ticketd dev` gives its simulator.
	DevPaystackSecretKey   = "sk_test_ticketd_dev_simulator"
	DefaultPaystackBaseURL = "https://api.paystack.co"
)

// Config is the effective configuration of every ticketd subcommand.
type Config struct {
	Port                  int
	DatabaseURL           string
	MigrationsDatabaseURL string
	DBMaxConns            int32
	DatabaseReadURL       string // a read replica's, for postgres.DB.ReadInTenant
	DatabasePoolMode      string // PoolModeTransaction behind PgBouncer's pool_mode=transaction
	RedisURL              string
	RedisKeyPrefix        string
	PlatformDomain        string
	PlatformAPIKey        string
	PublicURL             string
	TrustedProxies        []string
	// HTTPMaxConns and HTTPMaxConnsPerIP cap the API's connections (see
	// httpapi.Config).
	HTTPMaxConns, HTTPMaxConnsPerIP int
	TenantCacheTTL                  time.Duration
	JWTSecret                       string
	// TicketSigningSecret derives every organizer's check-in signing keys
	// (internal/checkin).
	TicketSigningSecret string
	JWTPreviousSecrets  []string
	JWTExpiresIn        time.Duration
	JWTIssuer           string
	JWTAudience         string
	RefreshTokenTTL     time.Duration
	CookieSecure        bool
	AuthRateLimitIP     int
	AuthRateLimitEmail  int
	AuthRateLimitWindow time.Duration
	WorkerQueue         string
	WorkerConcurrency   int
	SweepInterval       time.Duration
	SaleCacheTTL        time.Duration
	// SessionCheckTTL is how long an instance reuses a "not revoked"
	// answer (redis.SessionRevocations.CheckTTL).
	SessionCheckTTL time.Duration
	// SeatMapRefresh and SeatMapCacheMB: see httpapi.Config.
	SeatMapRefresh time.Duration
	SeatMapCacheMB int
	// MetricsAddr, when set, is the host:port of a listener of its own
	// that serves /metrics, which the public API then no longer serves: an
	// ingress in front of the API cannot leak it. `ticketd work` always
	// serves /metrics, /healthz and /readyz there, on :9091 when unset.
	MetricsAddr string
	// PprofAddr, when set, is the loopback host:port the Go profiler
	// listens on.
	PprofAddr string
	// BindAddr is the address the HTTP servers listen on: "" for every
	// interface (serve, in a container); `dev` and `paystack-sim` default
	// to 127.0.0.1, since they run with published keys.
	BindAddr string
	// Paystack: the secret key (sk_test_/sk_live_), the API base URL (the
	// simulator's in dev), the webhook source allowlist, where browsers go
	// after paying, and the reconciler's cadence.
	PaystackSecretKey  string
	PaystackBaseURL    string
	PaystackWebhookIPs []string
	StorefrontURL      string
	ReconcileInterval  time.Duration
	PaymentStaleAfter  time.Duration
	PaymentLookBack    time.Duration
	// DrainDelay is how long `serve` keeps serving after SIGTERM with its
	// /readyz failing, so that load balancers take it out of rotation
	// before it stops accepting; then ShutdownTimeout bounds the wait for
	// in-flight requests (serve) or running tasks (work).
	DrainDelay      time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	// SMTPURL is where mail to buyers goes (see mail.ParseURL); without it
	// mail is logged, not sent. MailFrom is its sender; MailConcurrency
	// how many mails a worker sends at once.
	SMTPURL         string
	MailFrom        string
	MailConcurrency int
	// Tracing is where spans are exported, from the standard OTEL_*
	// variables: nowhere (and nothing instrumented) unless an OTLP
	// endpoint is set.
	Tracing telemetry.TracingConfig

	// BookingMaxOpenHolds is how many pending bookings one buyer may have
	// in one event at once (0: any number).
	BookingMaxOpenHolds int
	// BookingRateLimitUser and BookingRateLimitIP cap booking requests per
	// organizer+user and per organizer+client address in
	// BookingRateLimitWindow (0: no limit).
	BookingRateLimitUser   int
	BookingRateLimitIP     int
	BookingRateLimitWindow time.Duration

	// WaitingRoomSecret signs waiting room tokens (internal/waitroom).
	WaitingRoomSecret string
	// WaitingRoomAutoMinPerMinute and WaitingRoomAutoMaxPerMinute bound
	// the auto admission rate of waiting rooms.
	WaitingRoomAutoMinPerMinute int
	WaitingRoomAutoMaxPerMinute int
	// WaitingRoomJoinLimitIP caps joins per organizer+client address in
	// WaitingRoomJoinLimitWindow (0: no limit).
	WaitingRoomJoinLimitIP     int
	WaitingRoomJoinLimitWindow time.Duration
}

// Load reads the configuration through getenv (os.Getenv in production) and
// returns every problem in one error whose text fits on one line.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Port:                  r.int("PORT", 8080, 1, 65535),
		MigrationsDatabaseURL: r.str("MIGRATIONS_DATABASE_URL", DefaultMigrationsDatabaseURL),
		DBMaxConns:            int32(r.int("DB_MAX_CONNS", 20, 1, 1000)),
		RedisURL:              r.str("REDIS_URL", DefaultRedisURL),
		RedisKeyPrefix:        r.str("REDIS_KEY_PREFIX", ""),
		PlatformDomain:        strings.ToLower(strings.TrimSuffix(r.str("PLATFORM_DOMAIN", "localhost"), ".")),
		PlatformAPIKey:        r.str("PLATFORM_API_KEY", ""),
		TenantCacheTTL:        r.duration("TENANT_CACHE_TTL", 15*time.Second),
		DrainDelay:            r.duration("DRAIN_DELAY", 5*time.Second),
		ShutdownTimeout:       r.duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		JWTSecret:             r.str("JWT_SECRET", ""),
		TicketSigningSecret:   r.str("TICKET_SIGNING_SECRET", ""),
		JWTExpiresIn:          r.duration("JWT_EXPIRES_IN", 15*time.Minute),
		JWTIssuer:             r.str("JWT_ISSUER", "ticketd"),
		JWTAudience:           r.str("JWT_AUDIENCE", "ticketd-api"),
		RefreshTokenTTL:       r.duration("REFRESH_TOKEN_TTL", 30*24*time.Hour),
		AuthRateLimitIP:       r.int("AUTH_RATE_LIMIT_IP", 30, 1, 100000),
		AuthRateLimitEmail:    r.int("AUTH_RATE_LIMIT_EMAIL", 10, 1, 100000),
		AuthRateLimitWindow:   r.duration("AUTH_RATE_LIMIT_WINDOW", time.Minute),
		WorkerQueue:           r.str("WORKER_QUEUE", "ticketd"),
		WorkerConcurrency:     r.int("WORKER_CONCURRENCY", 10, 1, 1000),
		SweepInterval:         r.duration("SWEEP_INTERVAL", time.Minute),
		SaleCacheTTL:          r.duration("SALE_CACHE_TTL", 2*time.Second),
		SessionCheckTTL:       r.duration("SESSION_CHECK_TTL", time.Second),
		SeatMapRefresh:        r.duration("SEAT_MAP_REFRESH", time.Second),
		SeatMapCacheMB:        r.int("SEAT_MAP_CACHE_MB", 128, 16, 1<<16),
		MetricsAddr:           r.str("METRICS_ADDR", ""),
		PprofAddr:             r.str("PPROF_ADDR", ""),
		BindAddr:              r.str("BIND_ADDR", ""),
		PaystackSecretKey:     r.str("PAYSTACK_SECRET_KEY", ""),
		PaystackBaseURL:       strings.TrimSuffix(r.str("PAYSTACK_BASE_URL", DefaultPaystackBaseURL), "/"),
		StorefrontURL:         strings.TrimSuffix(r.str("STOREFRONT_URL", ""), "/"),
		ReconcileInterval:     r.duration("PAYMENT_RECONCILE_INTERVAL", time.Minute),
		PaymentStaleAfter:     r.duration("PAYMENT_STALE_AFTER", 2*time.Minute),
		PaymentLookBack:       r.duration("PAYMENT_LOOKBACK", 24*time.Hour),
	}
	c.PublicURL = strings.TrimSuffix(r.str("PUBLIC_URL", fmt.Sprintf("http://%s:%d", c.PlatformDomain, c.Port)), "/")
	c.SMTPURL = r.str("SMTP_URL", "")
	if c.SMTPURL != "" {
		if _, err := mail.ParseURL(c.SMTPURL); err != nil {
			r.fail("SMTP_URL %v", err)
		}
	}
	c.MailFrom = r.str("MAIL_FROM", "ticketd <no-reply@"+c.PlatformDomain+">")
	if _, err := mail.ParseFrom(c.MailFrom); err != nil {
		r.fail("MAIL_FROM %v", err)
	}
	c.MailConcurrency = r.int("MAIL_CONCURRENCY", 2, 1, 100)
	c.BookingMaxOpenHolds = r.int("BOOKING_MAX_OPEN_HOLDS", 3, 0, 1000)
	c.BookingRateLimitUser = r.int("BOOKING_RATE_LIMIT_USER", 30, 0, 1000000)
	c.BookingRateLimitIP = r.int("BOOKING_RATE_LIMIT_IP", 300, 0, 1000000)
	c.BookingRateLimitWindow = r.duration("BOOKING_RATE_LIMIT_WINDOW", time.Minute)
	c.WaitingRoomSecret = r.str("WAITING_ROOM_SECRET", "")
	c.WaitingRoomAutoMinPerMinute = r.int("WAITING_ROOM_AUTO_MIN_PER_MINUTE", 120, 1, 100000)
	c.WaitingRoomAutoMaxPerMinute = r.int("WAITING_ROOM_AUTO_MAX_PER_MINUTE", 6000, 1, 100000)
	c.WaitingRoomJoinLimitIP = r.int("WAITING_ROOM_JOIN_LIMIT_IP", 60, 0, 1000000)
	c.WaitingRoomJoinLimitWindow = r.duration("WAITING_ROOM_JOIN_LIMIT_WINDOW", time.Minute)
	tracing, err := telemetry.TracingFromEnv(getenv)
	if err != nil {
		r.fail("%v", err)
	}
	c.Tracing = tracing
	c.DatabaseURL = r.str("DATABASE_URL", "")
	if c.DatabaseURL == "" {
		c.DatabaseURL = appRoleURL(c.MigrationsDatabaseURL)
	}
	c.DatabaseReadURL = r.str("DATABASE_READ_URL", "")
	c.DatabasePoolMode = r.str("DATABASE_POOL_MODE", PoolModeSession)
	if err := c.LogLevel.UnmarshalText([]byte(r.str("LOG_LEVEL", "info"))); err != nil {
		r.fail("LOG_LEVEL must be debug, info, warn or error")
	}
	c.CookieSecure = r.bool("COOKIE_SECURE", strings.HasPrefix(c.PublicURL, "https://"))
	for _, s := range strings.Split(r.str("JWT_PREVIOUS_SECRETS", ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.JWTPreviousSecrets = append(c.JWTPreviousSecrets, s)
		}
	}
	c.TrustedProxies = r.addresses("TRUSTED_PROXIES")
	c.HTTPMaxConns = r.int("HTTP_MAX_CONNS", 10_000, 1, 1_000_000)
	// Clients that connect directly are capped each; behind a proxy they
	// all share its address, so there is no cap unless one is set.
	perIP := 200
	if len(c.TrustedProxies) > 0 {
		perIP = 0
	}
	c.HTTPMaxConnsPerIP = r.int("HTTP_MAX_CONNS_PER_IP", perIP, 0, 1_000_000)
	c.PaystackWebhookIPs = r.addresses("PAYSTACK_WEBHOOK_IPS")
	if k := c.PaystackSecretKey; k != "" && !strings.HasPrefix(k, "sk_test_") && !strings.HasPrefix(k, "sk_live_") {
		r.fail("PAYSTACK_SECRET_KEY must be a Paystack secret key (sk_test_... or sk_live_...)")
	}
	r.url("PAYSTACK_BASE_URL", c.PaystackBaseURL, "http", "https")
	if c.StorefrontURL != "" {
		r.url("STOREFRONT_URL", c.StorefrontURL, "http", "https")
	}
	if c.ReconcileInterval < time.Second || c.ReconcileInterval > time.Hour {
		r.fail("PAYMENT_RECONCILE_INTERVAL must be between 1s and 1h")
	}
	if c.PaymentStaleAfter < time.Second || c.PaymentStaleAfter > 24*time.Hour {
		r.fail("PAYMENT_STALE_AFTER must be between 1s and 24h")
	}
	if c.PaymentLookBack < time.Minute || c.PaymentLookBack > 30*24*time.Hour {
		r.fail("PAYMENT_LOOKBACK must be between 1m and 720h")
	}
	r.url("DATABASE_URL", c.DatabaseURL, "postgres", "postgresql")
	r.url("MIGRATIONS_DATABASE_URL", c.MigrationsDatabaseURL, "postgres", "postgresql")
	if _, err := redis.ParseURL(c.RedisURL); err != nil {
		r.fail("REDIS_URL: %v (forms: redis://host:port/db, redis+cluster://host:port,host:port, redis+sentinel://host:port,host:port/db?master=name; rediss for TLS)", err)
	}
	if strings.ContainsAny(c.RedisKeyPrefix, "{}") {
		r.fail("REDIS_KEY_PREFIX must not contain { or }: a brace in it would be the Redis Cluster hash tag of every key")
	}
	r.databasePool(c)
	r.url("PUBLIC_URL", c.PublicURL, "http", "https")
	if c.PlatformDomain == "" || strings.ContainsAny(c.PlatformDomain, "/: ") {
		r.fail("PLATFORM_DOMAIN must be a host name such as tickets.example.com")
	}
	if c.PlatformAPIKey != "" && len(c.PlatformAPIKey) < 16 {
		r.fail("PLATFORM_API_KEY must be at least 16 characters")
	}
	if c.TenantCacheTTL < 0 || c.TenantCacheTTL > 5*time.Minute {
		r.fail("TENANT_CACHE_TTL must be between 0s and 5m")
	}
	if c.TicketSigningSecret != "" && len(c.TicketSigningSecret) < 32 {
		r.fail("TICKET_SIGNING_SECRET must be at least 32 characters")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		r.fail("JWT_SECRET must be at least 32 characters")
	}
	for _, s := range c.JWTPreviousSecrets {
		if len(s) < 32 {
			r.fail("JWT_PREVIOUS_SECRETS must each be at least 32 characters")
			break
		}
	}
	if c.JWTExpiresIn < time.Minute || c.JWTExpiresIn > 24*time.Hour {
		r.fail("JWT_EXPIRES_IN must be between 1m and 24h")
	}
	if c.RefreshTokenTTL < time.Hour || c.RefreshTokenTTL > 365*24*time.Hour {
		r.fail("REFRESH_TOKEN_TTL must be between 1h and 8760h")
	}
	if c.AuthRateLimitWindow < time.Second || c.AuthRateLimitWindow > 24*time.Hour {
		r.fail("AUTH_RATE_LIMIT_WINDOW must be between 1s and 24h")
	}
	if c.BookingRateLimitWindow < time.Second || c.BookingRateLimitWindow > 24*time.Hour {
		r.fail("BOOKING_RATE_LIMIT_WINDOW must be between 1s and 24h")
	}
	if c.WaitingRoomAutoMinPerMinute > c.WaitingRoomAutoMaxPerMinute {
		r.fail("WAITING_ROOM_AUTO_MIN_PER_MINUTE must not exceed WAITING_ROOM_AUTO_MAX_PER_MINUTE")
	}
	if c.WaitingRoomJoinLimitWindow < time.Second || c.WaitingRoomJoinLimitWindow > 24*time.Hour {
		r.fail("WAITING_ROOM_JOIN_LIMIT_WINDOW must be between 1s and 24h")
	}
	if c.WaitingRoomSecret != "" && len(c.WaitingRoomSecret) < 32 {
		r.fail("WAITING_ROOM_SECRET must be at least 32 characters")
	}
	if c.DrainDelay < 0 || c.DrainDelay > 5*time.Minute {
		r.fail("DRAIN_DELAY must be between 0s and 5m")
	}
	if c.ShutdownTimeout < time.Second || c.ShutdownTimeout > 10*time.Minute {
		r.fail("SHUTDOWN_TIMEOUT must be between 1s and 10m")
	}
	if c.SweepInterval < time.Second || c.SweepInterval > time.Hour {
		r.fail("SWEEP_INTERVAL must be between 1s and 1h")
	}
	if c.SaleCacheTTL < 0 || c.SaleCacheTTL > time.Minute {
		r.fail("SALE_CACHE_TTL must be between 0s and 1m")
	}
	if c.SessionCheckTTL < 0 || c.SessionCheckTTL > time.Minute {
		r.fail("SESSION_CHECK_TTL must be between 0s and 1m")
	}
	if c.SeatMapRefresh < 0 || c.SeatMapRefresh > time.Minute {
		r.fail("SEAT_MAP_REFRESH must be between 0s and 1m")
	}
	if c.BindAddr != "" {
		if _, err := netip.ParseAddr(c.BindAddr); err != nil {
			r.fail("BIND_ADDR must be an IP address (127.0.0.1, 0.0.0.0, ::1), not %q", c.BindAddr)
		}
	}
	if c.MetricsAddr != "" {
		if _, ok := splitListenAddr(c.MetricsAddr); !ok {
			r.fail("METRICS_ADDR must be host:port such as :9090 or 127.0.0.1:9090, got %q", c.MetricsAddr)
		}
	}
	if c.PprofAddr != "" {
		// The profiler shows the heap and can be made to burn CPU: no one
		// but the host itself may reach it.
		if host, ok := splitListenAddr(c.PprofAddr); !ok || !isLoopback(host) {
			r.fail("PPROF_ADDR must be a loopback host:port such as 127.0.0.1:6060 or localhost:6060, got %q", c.PprofAddr)
		}
	}
	return c, r.err()
}

// RequireServeSecrets checks what `serve` needs that `migrate` does not:
// its own secrets, never the development ones `ticketd dev` uses.
func (c Config) RequireServeSecrets() error {
	var missing []string
	if c.PlatformAPIKey == "" {
		missing = append(missing, "PLATFORM_API_KEY is required (at least 16 characters) to serve the platform API")
	}
	if c.JWTSecret == "" {
		missing = append(missing, "JWT_SECRET is required (at least 32 characters) to sign access tokens")
	}
	// The development credentials are published in this repository: with
	// them anyone could call the platform API or mint access tokens.
	if c.PlatformAPIKey == DevPlatformAPIKey {
		missing = append(missing, "PLATFORM_API_KEY is the published development key; set a secret one (e.g. openssl rand -hex 24)")
	}
	if c.TicketSigningSecret == "" {
		missing = append(missing, "TICKET_SIGNING_SECRET is required (at least 32 characters) to sign tickets' QR codes")
	}
	if c.TicketSigningSecret == DevTicketSigningSecret {
		missing = append(missing, "TICKET_SIGNING_SECRET is the published development secret; set a secret one (e.g. openssl rand -hex 32)")
	}
	if c.WaitingRoomSecret == "" {
		missing = append(missing, "WAITING_ROOM_SECRET is required (at least 32 characters) to sign waiting room tokens")
	}
	if c.WaitingRoomSecret == DevWaitingRoomSecret {
		missing = append(missing, "WAITING_ROOM_SECRET is the published development secret; set a secret one (e.g. openssl rand -hex 32)")
	}
	if c.JWTSecret == DevJWTSecret || slices.Contains(c.JWTPreviousSecrets, DevJWTSecret) {
		missing = append(missing, "JWT_SECRET (or JWT_PREVIOUS_SECRETS) is the published development secret; set a secret one (e.g. openssl rand -hex 32)")
	}
	if len(missing) > 0 {
		return errors.New("config: " + strings.Join(missing, "; "))
	}
	return nil
}

// LogValue implements slog.LogValuer: the configuration with every secret
// masked, for the startup log line.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.String("databaseURL", redact.URL(c.DatabaseURL)),
		slog.String("migrationsDatabaseURL", redact.URL(c.MigrationsDatabaseURL)),
		slog.Int("dbMaxConns", int(c.DBMaxConns)),
		slog.String("databaseReadURL", redact.URL(c.DatabaseReadURL)),
		slog.String("databasePoolMode", c.DatabasePoolMode),
		slog.String("redisURL", redact.URL(c.RedisURL)),
		slog.String("redisKeyPrefix", c.RedisKeyPrefix),
		slog.String("platformDomain", c.PlatformDomain),
		slog.String("platformAPIKey", mask(c.PlatformAPIKey)),
		slog.String("publicURL", c.PublicURL),
		slog.Any("trustedProxies", c.TrustedProxies),
		slog.String("tenantCacheTTL", c.TenantCacheTTL.String()),
		slog.String("drainDelay", c.DrainDelay.String()),
		slog.String("shutdownTimeout", c.ShutdownTimeout.String()),
		slog.String("jwtSecret", mask(c.JWTSecret)),
		slog.String("ticketSigningSecret", mask(c.TicketSigningSecret)),
		slog.Int("jwtPreviousSecrets", len(c.JWTPreviousSecrets)),
		slog.String("jwtExpiresIn", c.JWTExpiresIn.String()),
		slog.String("jwtIssuer", c.JWTIssuer),
		slog.String("jwtAudience", c.JWTAudience),
		slog.String("refreshTokenTTL", c.RefreshTokenTTL.String()),
		slog.Bool("cookieSecure", c.CookieSecure),
		slog.Int("authRateLimitIP", c.AuthRateLimitIP),
		slog.Int("authRateLimitEmail", c.AuthRateLimitEmail),
		slog.String("authRateLimitWindow", c.AuthRateLimitWindow.String()),
		slog.Int("bookingMaxOpenHolds", c.BookingMaxOpenHolds),
		slog.Int("bookingRateLimitUser", c.BookingRateLimitUser),
		slog.Int("bookingRateLimitIP", c.BookingRateLimitIP),
		slog.String("bookingRateLimitWindow", c.BookingRateLimitWindow.String()),
		slog.String("waitingRoomSecret", mask(c.WaitingRoomSecret)),
		slog.Int("waitingRoomAutoMinPerMinute", c.WaitingRoomAutoMinPerMinute),
		slog.Int("waitingRoomAutoMaxPerMinute", c.WaitingRoomAutoMaxPerMinute),
		slog.Int("waitingRoomJoinLimitIP", c.WaitingRoomJoinLimitIP),
		slog.String("waitingRoomJoinLimitWindow", c.WaitingRoomJoinLimitWindow.String()),
		slog.String("workerQueue", c.WorkerQueue),
		slog.Int("workerConcurrency", c.WorkerConcurrency),
		slog.String("sweepInterval", c.SweepInterval.String()),
		slog.String("saleCacheTTL", c.SaleCacheTTL.String()),
		slog.String("sessionCheckTTL", c.SessionCheckTTL.String()),
		slog.String("seatMapRefresh", c.SeatMapRefresh.String()),
		slog.Int("seatMapCacheMB", c.SeatMapCacheMB),
		slog.String("metricsAddr", c.MetricsAddr),
		slog.String("pprofAddr", c.PprofAddr),
		slog.String("paystackSecretKey", mask(c.PaystackSecretKey)),
		slog.String("paystackBaseURL", c.PaystackBaseURL),
		slog.Any("paystackWebhookIPs", c.PaystackWebhookIPs),
		slog.String("storefrontURL", c.StorefrontURL),
		slog.String("reconcileInterval", c.ReconcileInterval.String()),
		slog.String("paymentStaleAfter", c.PaymentStaleAfter.String()),
		slog.String("paymentLookBack", c.PaymentLookBack.String()),
		slog.String("logLevel", c.LogLevel.String()),
		slog.String("smtpURL", redact.URL(c.SMTPURL)),
		slog.String("mailFrom", c.MailFrom),
		slog.Int("mailConcurrency", c.MailConcurrency),
	)
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "******"
}

// reader accumulates problems so that Load reports all of them at once.
type reader struct {
	getenv   func(string) string
	problems []string
}

func (r *reader) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *reader) err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return errors.New("config: " + strings.Join(r.problems, "; "))
}

func (r *reader) str(key, def string) string {
	if v := strings.TrimSpace(r.getenv(key)); v != "" {
		return v
	}
	return def
}

func (r *reader) int(key string, def, lo, hi int) int {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		r.fail("%s must be a whole number from %d to %d, got %q", key, lo, hi, v)
		return def
	}
	return n
}

func (r *reader) bool(key string, def bool) bool {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail("%s must be true or false, got %q", key, v)
		return def
	}
	return b
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	v := r.getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		r.fail("%s must be a duration such as 30s or 5m, got %q", key, v)
		return def
	}
	return d
}

func (r *reader) url(key, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		r.fail("%s is not a valid URL", key)
		return
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return
		}
	}
	r.fail("%s must use the scheme %s", key, strings.Join(schemes, " or "))
}

// databasePool checks DATABASE_READ_URL and DATABASE_POOL_MODE. Behind a
// transaction pooler, pgx must not rely on prepared statements, and a
// default_query_exec_mode in a URL that does is a contradiction to refuse
// rather than to override.
func (r *reader) databasePool(c Config) {
	if c.DatabaseReadURL != "" {
		r.url("DATABASE_READ_URL", c.DatabaseReadURL, "postgres", "postgresql")
	}
	switch c.DatabasePoolMode {
	case PoolModeSession:
		return
	case PoolModeTransaction:
	default:
		r.fail("DATABASE_POOL_MODE must be %s or %s, got %q", PoolModeSession, PoolModeTransaction, c.DatabasePoolMode)
		return
	}
	for _, v := range [...]struct{ key, url string }{{"DATABASE_URL", c.DatabaseURL}, {"DATABASE_READ_URL", c.DatabaseReadURL}} {
		key := v.key
		u, err := url.Parse(v.url)
		if err != nil {
			continue // reported by r.url
		}
		switch mode := u.Query().Get("default_query_exec_mode"); mode {
		case "", "cache_describe", "exec", "simple_protocol":
		default:
			r.fail("%s's default_query_exec_mode=%s relies on prepared statements, which DATABASE_POOL_MODE=transaction rules out: "+
				"leave it out (cache_describe is used) or use exec or simple_protocol", key, mode)
		}
	}
}

// appRoleURL returns the migrations URL with the application role as its
// user and no password: the default DATABASE_URL.
func appRoleURL(migrationsURL string) string {
	u, err := url.Parse(migrationsURL)
	if err != nil {
		return migrationsURL
	}
	u.User = url.User(DefaultAppRole)
	return u.String()
}

// splitListenAddr returns the host of a host:port to listen on, and whether
// the port is a number from 1 to 65535.
func splitListenAddr(addr string) (host string, ok bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	n, err := strconv.Atoi(port)
	return host, err == nil && n >= 1 && n <= 65535
}

// isLoopback reports whether host is localhost or a loopback IP address
// (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// addresses reads a comma-separated list of IP addresses and CIDR ranges.
func (r *reader) addresses(name string) []string {
	var out []string
	for _, p := range strings.Split(r.str(name, ""), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			r.fail("%s: %q is neither an IP address nor a CIDR range", name, p)
		}
		out = append(out, p)
	}
	return out
}
