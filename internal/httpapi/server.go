// Package httpapi is the HTTP API of ticketd on Fiber: the route table, the
// middleware that gives every request an id, a tenant and an access log line,
// the handlers, and the one place where errors become HTTP responses.
package httpapi

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/authz"
	"github.com/ticketd-io/ticketd/internal/cache"
	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/storefront"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Config is what the HTTP layer needs from the process configuration.
type Config struct {
	// PlatformDomain: tenants live at <slug>.<PlatformDomain>.
	PlatformDomain string
	// PlatformAPIKey authenticates the /v1/platform API; empty disables it.
	PlatformAPIKey string
	// TrustedProxies are the peers (IPs or CIDRs) whose X-Forwarded-* headers
	// are believed.
	TrustedProxies []string
	// TenantCacheTTL is how long a resolved tenant is cached in process.
	TenantCacheTTL time.Duration
	// MaxConns caps the connections served at once (Fiber's default when
	// 0); past it a new connection is answered 503 and closed, so a flood
	// of idle connections sheds load instead of exhausting the process's
	// files.
	MaxConns int
	// CookieSecure marks the session cookies Secure (HTTPS only).
	CookieSecure bool
	// AuthRateLimitIP and AuthRateLimitEmail cap signin and signup attempts
	// per tenant+IP and per tenant+email in the limiter's window.
	AuthRateLimitIP    int
	AuthRateLimitEmail int
	// BookingRateLimitUser and BookingRateLimitIP cap booking requests per
	// tenant+user and per tenant+IP in BookingLimiter's window (0: no limit).
	BookingRateLimitUser int
	BookingRateLimitIP   int
	// MetricsElsewhere leaves GET /metrics out of the API (it answers 404
	// as any unknown route): another listener serves it (METRICS_ADDR), so
	// an ingress in front of the API cannot expose it.
	MetricsElsewhere bool
	// Version is reported by /healthz.
	Version string
	// PaystackSecretKey checks the signature of Paystack's webhooks.
	PaystackSecretKey string
	// PaystackWebhookIPs, when not empty, are the only source addresses
	// (IPs or CIDRs, as the client IP is resolved) webhooks are taken from.
	PaystackWebhookIPs []string
	// StorefrontURL is where a browser returning from the checkout is sent
	// (<StorefrontURL>/bookings/<id>?payment=<status>); without it the
	// callback answers JSON to everyone.
	StorefrontURL string
	// SeatMapRefresh is the least time between two renderings of an
	// event's seat map in this process: a map that changed sooner is
	// served as last rendered. 0 renders every change.
	SeatMapRefresh time.Duration
	// SeatMapCacheBytes bounds the seat map renderings kept in memory
	// (128 MiB when 0).
	SeatMapCacheBytes int64
	// WaitingRoomJoinLimitIP caps waiting room joins per tenant+client
	// address in WaitingRoomLimiter's window (0: no limit).
	WaitingRoomJoinLimitIP int
	// WaitingRoomStreamFor and WaitingRoomStreamEvery are how long a
	// waiting room event stream lasts and how often it sends the status
	// (60s and 2s when 0); WaitingRoomStreams caps the streams open at once
	// (10000 when 0).
	WaitingRoomStreamFor   time.Duration
	WaitingRoomStreamEvery time.Duration
	WaitingRoomStreams     int
}

// Deps are the services behind the handlers.
type Deps struct {
	Tenants  ticketing.TenantService
	Users    ticketing.UserService
	Venues   ticketing.VenueService
	Events   ticketing.EventService
	Bookings ticketing.BookingService
	// Stock forgets what is known of an event's stock after the catalog of
	// the event changed (booking.Service).
	Stock StockInvalidator
	// Caches carries the tenant cache's invalidations to the other
	// instances (redis.Invalidations; nil: this instance only, and the
	// others see a change within TenantCacheTTL).
	Caches      cache.Bus
	Sessions    ticketing.SessionService
	Revocations ticketing.SessionRevocations
	Tokens      AccessTokens
	Authz       RoutePolicy
	AuthLimiter RateLimiter
	// BookingLimiter counts booking requests (nil: not limited).
	BookingLimiter RateLimiter
	// WaitingRooms queues buyers in front of events' bookings (nil: no
	// waiting rooms: bookings are never gated and the room routes fail);
	// WaitingRoomLimiter counts joins (nil: not limited).
	WaitingRooms       ticketing.WaitingRoomService
	WaitingRoomLimiter RateLimiter
	// SigninGuard throttles password guessing per email without locking
	// the owner out (redis.SigninGuard).
	SigninGuard SigninGuard
	Payments    ticketing.PaymentService
	// Tickets serves tickets and check-in keys; TicketSigner signs their
	// QR payloads.
	Tickets      ticketing.TicketService
	Checkins     ticketing.CheckinService
	TicketSigner *checkin.Signer
	Refunds      ticketing.RefundService
	// PaymentInbox stores webhooks and routes references to tenants
	// (postgres.PaymentStore); PaymentQueue enqueues verifications (the
	// asynq client).
	PaymentInbox PaymentInbox
	PaymentQueue PaymentQueue
	// Ready are the dependency checks of /readyz, by name.
	Ready map[string]func(context.Context) error
	// Optional are the checks of the dependencies the API serves without
	// (the read replica): /readyz names their failures under "degraded"
	// and stays 200.
	Optional map[string]func(context.Context) error
	Metrics  *telemetry.Metrics
	Logger   *slog.Logger
	// Tracing, when set, traces every request (see traceRequests); when
	// nil the API is not instrumented at all.
	Tracing trace.TracerProvider
}

// AccessTokens issues and checks access tokens (auth.Tokens).
type AccessTokens interface {
	Issue(c auth.Claims) (token string, expiresAt time.Time, err error)
	Parse(token string) (auth.Claims, error)
	TTL() time.Duration
}

// RoutePolicy decides which role may call which route (authz.Enforcer).
type RoutePolicy interface {
	Allowed(role, route, method string) (bool, error)
	CheckCoverage(routes []authz.Route) error
}

// RateLimiter counts attempts against limits shared by every instance
// (redis.RateLimiter); it returns how long to wait, zero when allowed.
type RateLimiter interface {
	Allow(ctx context.Context, tenantID string, limits ...redis.Limit) (time.Duration, error)
}

// SigninGuard decides whether an address may try an email's password now,
// and hears of each failure.
type SigninGuard interface {
	Check(ctx context.Context, tenantID, email, address string) (time.Duration, error)
	Failed(ctx context.Context, tenantID, email, address string) error
}

// PaymentInbox keeps what Paystack sends before any tenant is known.
type PaymentInbox interface {
	RecordWebhook(ctx context.Context, bodySHA256, event, reference string, payload []byte) (first bool, err error)
	TenantOfReference(ctx context.Context, reference string) (string, error)
}

// PaymentQueue enqueues the verification of a payment reference (one task
// per reference, however many ask), and the following of its refunds on a
// refund webhook (one task per webhook, named by key).
type PaymentQueue interface {
	EnqueueVerify(ctx context.Context, tenantID, reference string) error
	EnqueueFollowRefunds(ctx context.Context, tenantID, reference, key string) error
	// EnqueueEventRefunds has the worker refund the confirmed bookings of
	// a cancelled event.
	EnqueueEventRefunds(ctx context.Context, tenantID, eventID string) error
}

// StockInvalidator is told when an event's ticket types or state change.
type StockInvalidator interface {
	EventChanged(ctx context.Context, eventID string) error
}

// Server is the HTTP API.
type Server struct {
	app      *fiber.App
	cfg      Config
	deps     Deps
	tenants  *tenantCache
	seatMaps *seatMapCache
	shop     *storefront.Shop
	proxies  []netip.Prefix
	// closing is closed when Shutdown starts, so that long responses (the
	// waiting room's event streams) end instead of holding it up; streams
	// counts those open.
	closing   chan struct{}
	closeOnce sync.Once
	streams   streamSlots
	// draining is set by Drain: /readyz fails and every response closes
	// its connection.
	draining atomic.Bool
}

// New builds the API with every route of routes(). It fails when the
// authorization policy does not decide every route.
func New(cfg Config, deps Deps) (*Server, error) {
	s := &Server{cfg: cfg, deps: deps, proxies: trustedProxies(cfg.TrustedProxies), closing: make(chan struct{})}
	s.tenants = newTenantCache(deps.Tenants, cfg.TenantCacheTTL, deps.Metrics)
	if deps.Caches != nil {
		deps.Caches.Handle(TenantCacheKind, s.tenants.forget, s.tenants.purge)
	}
	s.seatMaps = newSeatMapCache(cfg.SeatMapRefresh, cfg.SeatMapCacheBytes, runtime.GOMAXPROCS(0))
	shop, err := storefront.New()
	if err != nil {
		return nil, err
	}
	s.shop = shop
	s.app = fiber.New(fiber.Config{
		AppName:                 "ticketd",
		ErrorHandler:            s.handleError,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		DisableStartupMessage:   true,
		BodyLimit:               1 << 20,
		ReadTimeout:             30 * time.Second,
		WriteTimeout:            30 * time.Second,
		IdleTimeout:             120 * time.Second,
		Concurrency:             cfg.MaxConns,
	})
	// A response written while Shutdown waits says "Connection: close", so
	// the client does not send its next request on a connection about to
	// be closed (Fiber does not expose the setting).
	s.app.Server().CloseOnShutdown = true
	middleware := []any{s.requestID}
	if deps.Tracing != nil {
		middleware = append(middleware, s.traceRequests(deps.Tracing))
	}
	s.app.Use(append(middleware, s.closeWhenDraining, s.accessLog, s.recoverPanic, s.securityHeaders, validText)...)
	if err := s.register(); err != nil {
		return nil, err
	}
	return s, nil
}

// App returns the Fiber application, for Listen and for tests.
func (s *Server) App() *fiber.App { return s.app }

// Drain begins a graceful shutdown without stopping anything: /readyz
// answers 503 from now on, so that load balancers take the instance out of
// rotation, and every response closes its connection, so that the client's
// next request opens one to an instance that stays. Everything else is
// served as before until Shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// Shutdown stops accepting connections, ends the event streams, and waits
// for in-flight requests until ctx is done. Idle keep-alive connections are
// closed, and a connection whose request is in flight is closed once its
// response is written.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	return s.app.ShutdownWithContext(ctx)
}
