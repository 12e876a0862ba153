package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/authz"
	"github.com/ticketd-io/ticketd/internal/booking"
	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/payment"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/telemetry/telemetrytest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/waitroom"
)

const (
	testPlatformKey = "test-platform-key-0123456789"
	testJWTSecret   = "test-jwt-secret-0123456789abcdef0123456789"
	adminPassword   = "admin-password-1"
	testPaystackKey = "sk_test_ticketd_httpapi_0123456789"
)

// testAPI is the real API on a fresh database and Redis namespace.
type testAPI struct {
	t        *testing.T
	srv      *httpapi.Server
	db       *pgtest.DB
	rdb      *redis.Client
	log      *telemetrytest.LogBuffer
	stock    *inventory.Store
	bookings *booking.Service
	// store is the Postgres store of bookings, counting its reads of one
	// booking.
	store *countingStore
	// sim is the Paystack the API talks to, at simURL; its webhooks reach
	// the API over HTTP. queue records the tasks the API enqueues.
	sim    *paystacksim.Sim
	simURL string
	queue  *fakeQueue
	// payments runs the tasks queue recorded, when a test needs them run.
	payments *payment.Service
	// rooms are the waiting rooms, on clock.
	rooms *waitroom.Service
	clock *testClock
}

// testClock is the waiting rooms' clock: it stands still, at the time the
// API was built, and moves only by what a test adds, so that no admission
// depends on how fast the machine runs the test. followWallClock makes it
// the wall clock (plus what was added), for the benchmark.
type testClock struct {
	mu     sync.Mutex
	base   time.Time // zero: the wall clock
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.base.Add(c.offset)
}

// followWallClock lets the clock run with the wall clock from now on.
func (c *testClock) followWallClock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.base.IsZero() {
		c.offset += c.base.Sub(time.Now())
		c.base = time.Time{}
	}
}

// advance moves the clock forward by d.
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// newTestAPI builds the API; configure may change its configuration.
func newTestAPI(t *testing.T, configure ...func(*httpapi.Config, *httpapi.Deps)) *testAPI {
	t.Helper()
	db := pgtest.New(t)
	rdb := redistest.New(t)
	buf := &telemetrytest.LogBuffer{}
	cfg := httpapi.Config{
		PlatformDomain:     "tickets.test",
		PlatformAPIKey:     testPlatformKey,
		TenantCacheTTL:     time.Minute,
		AuthRateLimitIP:    1000,
		AuthRateLimitEmail: 1000,
		Version:            "test",
		PaystackSecretKey:  testPaystackKey,
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{
		Secret: testJWTSecret, Issuer: "ticketd-test", Audience: "ticketd-api", TTL: 15 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	enforcer, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	hasher := auth.Hasher{Memory: 1024, Iterations: 1, Parallelism: 1}
	logger := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := &countingStore{BookingStore: postgres.NewBookingStore(db.App)}
	stock := inventory.New(rdb.UniversalClient, rdb.Prefix, store)
	bookings := booking.New(store, stock, noScheduler{}, logger, 0)
	metrics := telemetry.New("test")
	queue := &fakeQueue{}
	// The simulator posts webhooks to the API through a real HTTP server;
	// srv is set before anything is paid.
	var srv *httpapi.Server
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adaptor.FiberApp(srv.App())(w, r)
	}))
	t.Cleanup(hooks.Close)
	sim := paystacksim.New(paystacksim.Config{SecretKey: testPaystackKey, WebhookURL: hooks.URL + "/v1/webhooks/paystack",
		RetrySchedule: []time.Duration{10 * time.Millisecond, 50 * time.Millisecond}})
	simServer := httptest.NewServer(sim)
	t.Cleanup(simServer.Close)
	t.Cleanup(sim.Close) // first: no delivery outlives the test's database
	payments := payment.New(paystack.New(simServer.URL, testPaystackKey, paystack.WithTimeout(5*time.Second)),
		postgres.NewPaymentStore(db.App), stock, queue, logger, metrics, payment.Config{PublicURL: "http://tickets.test"})
	sessions := postgres.NewSessionService(db.App, hasher, 24*time.Hour)
	signer, err := checkin.NewSigner(testJWTSecret)
	if err != nil {
		t.Fatal(err)
	}
	tickets := postgres.NewTicketService(db.App, func(tenantID string, version int) []byte {
		return signer.PublicKey(tenantID, version)
	})
	roomSigner, err := waitroom.NewSigner(testJWTSecret)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{base: time.Now()}
	rooms := waitroom.New(postgres.NewWaitingRoomStore(db.App), waitroom.NewQueue(rdb.UniversalClient, rdb.Prefix), roomSigner, bookings, metrics, logger,
		waitroom.Config{AutoMinPerMinute: 120, AutoMaxPerMinute: 6000, CacheTTL: 2 * time.Second})
	rooms.SetClock(clock.now)
	deps := httpapi.Deps{
		Bookings:     bookings,
		Stock:        bookings,
		Tenants:      postgres.NewTenantService(db.App, hasher),
		Users:        postgres.NewUserService(db.App, hasher),
		Venues:       postgres.NewVenueService(db.App),
		Events:       postgres.NewEventService(db.App),
		Sessions:     sessions,
		Revocations:  rdb.Sessions(0, sessions, tokens.TTL()+auth.Leeway),
		Tokens:       tokens,
		Authz:        enforcer,
		AuthLimiter:  rdb.NewRateLimiter("auth", time.Minute),
		SigninGuard:  rdb.NewSigninGuard(10, 10, time.Minute),
		Payments:     payments,
		Tickets:      tickets,
		Checkins:     tickets,
		TicketSigner: signer,
		Refunds:      payments,
		PaymentInbox: postgres.NewPaymentStore(db.App),
		PaymentQueue: queue,
		Ready: map[string]func(context.Context) error{
			"postgres": db.App.Ping,
			"redis":    rdb.Ready,
		},
		Metrics: metrics,
		Logger:  logger,

		// Booking limits are off (0) unless a test's configure sets them.
		BookingLimiter: rdb.NewRateLimiter("booking", time.Minute),

		WaitingRooms:       rooms,
		WaitingRoomLimiter: rdb.NewRateLimiter("waitroom", time.Minute),
	}
	for _, f := range configure {
		f(&cfg, &deps)
	}
	srv, err = httpapi.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &testAPI{t: t, srv: srv, db: db, rdb: rdb, log: buf, stock: stock, bookings: bookings, store: store,
		sim: sim, simURL: simServer.URL, queue: queue, payments: payments, rooms: rooms, clock: clock}
}

// countingStore counts FindBooking calls: a keyed booking request should
// read Postgres only when a booking with its key may exist.
type countingStore struct {
	*postgres.BookingStore
	finds atomic.Int64
}

func (s *countingStore) FindBooking(ctx context.Context, id, userID string) (*ticketing.Booking, error) {
	s.finds.Add(1)
	return s.BookingStore.FindBooking(ctx, id, userID)
}

// noScheduler drops expiry tasks: API tests expire bookings by calling the
// service, and the worker's own tests run asynq.
type noScheduler struct{}

func (noScheduler) ScheduleExpiry(context.Context, string, time.Time) error { return nil }

// task is one enqueued task: a tenant and a reference or refund id.
type task struct{ tenantID, id string }

// fakeQueue records the verifications, refunds and refund follow-ups
// enqueued; the worker's own tests run them on asynq. failVerify makes
// EnqueueVerify fail.
type fakeQueue struct {
	mu                                 sync.Mutex
	verifies, refunds, follows, events []task
	failVerify                         bool
}

func (q *fakeQueue) EnqueueVerify(_ context.Context, tenantID, reference string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failVerify {
		return errors.New("queue down")
	}
	q.verifies = append(q.verifies, task{tenantID, reference})
	return nil
}

func (q *fakeQueue) EnqueueRefund(_ context.Context, tenantID, refundID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refunds = append(q.refunds, task{tenantID, refundID})
	return nil
}

// EnqueueMail drops the mail: these tests look at payments, and the outbox
// keeps the mail for a worker they do not run.
func (q *fakeQueue) EnqueueMail(context.Context, string, ticketing.MailKind, string) error {
	return nil
}

// EnqueueEventRefunds records the cancelled events; these tests run no worker.
func (q *fakeQueue) EnqueueEventRefunds(_ context.Context, tenantID, eventID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events = append(q.events, task{tenantID, eventID})
	return nil
}

func (q *fakeQueue) EnqueueFollowRefunds(_ context.Context, tenantID, reference, _ string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.follows = append(q.follows, task{tenantID, reference})
	return nil
}

// refunded returns the refunds enqueued so far.
func (q *fakeQueue) refunded() []task {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]task(nil), q.refunds...)
}

// followed returns the refund follow-ups enqueued so far.
func (q *fakeQueue) followed() []task {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]task(nil), q.follows...)
}

// verified returns the verifications enqueued so far.
func (q *fakeQueue) verified() []task {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]task(nil), q.verifies...)
}

func (q *fakeQueue) setFailVerify(fail bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failVerify = fail
}

// request describes one call; host defaults to the platform apex.
type request struct {
	method, path, host string
	body               any
	headers            map[string]string
	platformKey        bool
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (a *testAPI) do(r request) response {
	a.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	host := r.host
	if host == "" {
		host = "tickets.test"
	}
	req := httptest.NewRequest(r.method, "http://"+host+r.path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.platformKey {
		req.Header.Set("Authorization", "Bearer "+testPlatformKey)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	res, err := a.srv.App().Test(req, -1)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			a.t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return out
}

// createTenant creates a tenant through the platform API, with the admin
// admin@<slug>.test whose password is adminPassword.
func (a *testAPI) createTenant(slug string) map[string]any {
	a.t.Helper()
	res := a.do(request{method: "POST", path: "/v1/platform/tenants", platformKey: true,
		body: tenantBody(slug, "Org "+slug, "NGN")})
	if res.status != 201 {
		a.t.Fatalf("create tenant %s: %d %s", slug, res.status, res.raw)
	}
	return res.body["tenant"].(map[string]any)
}

// tenantBody is the request body that creates a tenant with its admin.
func tenantBody(slug, name, currency string) map[string]any {
	return map[string]any{"slug": slug, "name": name, "currency": currency,
		"admin": map[string]string{"email": "admin@" + slug + ".test", "password": adminPassword, "name": "Admin"}}
}

// count returns the number of rows of a table, across all tenants.
func (a *testAPI) count(table string) int {
	a.t.Helper()
	var n int
	if err := a.db.Admin.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		a.t.Fatal(err)
	}
	return n
}

// assertError checks the error shape of the design and the status and code.
func assertError(t *testing.T, res response, status int, code string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d: %s", res.status, status, res.raw)
	}
	b := res.body
	msgs, _ := b["message"].([]any)
	if b["statusCode"] != float64(status) || b["error"] != http.StatusText(status) || b["code"] != code ||
		len(msgs) == 0 || b["requestId"] == "" || b["requestId"] != res.header.Get("X-Request-ID") {
		t.Fatalf("error body %s; want statusCode %d, error %q, code %q, messages and the request id", res.raw, status, http.StatusText(status), code)
	}
}

// messages returns the messages of an error body joined by newlines.
func messages(res response) string {
	var out []string
	for _, m := range res.body["message"].([]any) {
		out = append(out, m.(string))
	}
	return strings.Join(out, "\n")
}

// walkPages follows nextCursor from path (which has its query string) with
// get, fails on a row listed twice, and returns the values of field of
// every row listed.
func walkPages(t *testing.T, path, field string, get func(path string) response) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		p := path
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		res := get(p)
		if res.status != 200 {
			t.Fatalf("GET %s: %d %s", p, res.status, res.raw)
		}
		for _, row := range res.body["data"].([]any) {
			v := row.(map[string]any)[field].(string)
			if seen[v] {
				t.Fatalf("%s listed twice", v)
			}
			seen[v] = true
		}
		next, ok := res.body["nextCursor"].(string)
		if !ok {
			return seen
		}
		cursor = next
	}
}
