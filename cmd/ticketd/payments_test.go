package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	dto "github.com/prometheus/client_model/go"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/payment"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// The payment tests run the whole service as `ticketd dev` does, over real
// HTTP: the API, a real asynq worker, the Paystack simulator, Postgres and
// Redis. Every scenario ends with the payment invariants: each successful
// charge is a confirmed booking, a refund, or a booking under review (an
// amount that did not match), no booking is confirmed twice, and for each
// booking what Paystack charged = what confirmed it + what was refunded or
// is owed back + what awaits a person's review.

const testPaystackKey = "sk_test_e2e_0123456789abcdef"

// stack is one test's running service.
type stack struct {
	t      *testing.T
	db     *pgtest.DB
	app    *app
	api    string // http://127.0.0.1:port
	sim    *paystacksim.Sim
	tenant *ticketing.Tenant
	queue  string
	// vars is the configuration of the stack's API, for more instances.
	vars map[string]string

	workerMu   sync.Mutex
	stopWorker func()
	events     []string // of the sales, for the inventory check
	// gate, when set, holds Paystack's answers to the requests it matches.
	gate *atomic.Pointer[gate]
}

// gate holds the simulator's answers to some requests until released.
type gate struct {
	match    func(*http.Request) bool
	arrived  chan struct{} // closed when the first matching request arrives
	release  chan struct{}
	arriving sync.Once
}

// holdPaystack holds Paystack's answers to the requests match accepts
// until the returned gate's release is closed (or the caller gives up).
func (s *stack) holdPaystack(match func(*http.Request) bool) *gate {
	g := &gate{match: match, arrived: make(chan struct{}), release: make(chan struct{})}
	s.gate.Store(g)
	return g
}

// wait blocks until ch is closed, for up to 20 s.
func (s *stack) wait(what string, ch <-chan struct{}) {
	s.t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		s.t.Fatalf("after 20s: %s", what)
	}
}

func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackWith(t, stackOptions{})
}

// stackOptions change the stack of a test: vars on top of its
// configuration, dbVars on top of those for what depends on the test's
// database (a PgBouncer in front of it), its tracing (none when nil), where
// it logs (nowhere when nil), its Redis (redistest.URL when empty) and where
// its API is served (by the stack when empty).
type stackOptions struct {
	vars     map[string]string
	dbVars   func(t *testing.T, db *pgtest.DB) map[string]string
	tracing  *telemetry.Tracing
	log      io.Writer
	redisURL string
	// api, when set, is the address of an API that others serve with the
	// stack's vars (TestScaleOutChaos's processes, behind its front): the
	// stack then serves nothing and runs no worker, and Paystack's webhooks
	// and the test's requests go there.
	api string
}

func newStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	db := pgtest.New(t)
	if o.redisURL == "" {
		o.redisURL = redistest.URL()
	}
	rdb := redistest.NewOn(t, o.redisURL)
	queue := "test-" + strings.TrimSuffix(strings.TrimPrefix(rdb.Prefix, "test:"), ":")
	redistest.CleanupAsynqQueue(t, rdb, queue)
	redistest.CleanupAsynqQueue(t, rdb, worker.MailQueue(queue))

	// The simulator's address is needed by the app, the app's by the
	// simulator (its webhook URL): the simulator's server starts first and
	// gets its handler once the API listens.
	var simHandler atomic.Pointer[paystacksim.Sim]
	var held atomic.Pointer[gate]
	simServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := held.Load(); g != nil && g.match(r) {
			g.arriving.Do(func() { close(g.arrived) })
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		if s := simHandler.Load(); s != nil {
			s.ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(simServer.Close)

	vars := map[string]string{
		"DATABASE_URL":               db.AppURL,
		"REDIS_URL":                  o.redisURL,
		"REDIS_KEY_PREFIX":           rdb.Prefix,
		"WORKER_QUEUE":               queue,
		"PLATFORM_API_KEY":           "test-platform-key-0123456789",
		"JWT_SECRET":                 testJWTSecret,
		"TICKET_SIGNING_SECRET":      testJWTSecret,
		"WAITING_ROOM_SECRET":        testJWTSecret,
		"PAYSTACK_SECRET_KEY":        testPaystackKey,
		"PAYSTACK_BASE_URL":          simServer.URL,
		"SWEEP_INTERVAL":             "1s",
		"PAYMENT_RECONCILE_INTERVAL": "1s",
		"PAYMENT_STALE_AFTER":        "2s",
		"LOG_LEVEL":                  "error",
		"DRAIN_DELAY":                "0s",
		"DB_MAX_CONNS":               "8", // many stacks share the server's connections
		// The payment tests book many times per buyer and address;
		// TestBookingLimitsAreWired turns the limits on.
		"BOOKING_RATE_LIMIT_USER": "0",
		"BOOKING_RATE_LIMIT_IP":   "0",
		"BOOKING_MAX_OPEN_HOLDS":  "0",
	}
	maps.Copy(vars, o.vars)
	if o.dbVars != nil {
		maps.Copy(vars, o.dbVars(t, db))
	}
	cfg, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = 0
	if o.log == nil {
		o.log = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := openTracedApp(ctx, cfg, o.log, "test", o.tracing)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	api := o.api
	if api == "" {
		listening := make(chan string, 1)
		go func() { served <- a.serve(ctx, listening) }()
		var addr string
		select {
		case addr = <-listening:
		case err := <-served:
			t.Fatalf("serve: %v", err)
		}
		api = "http://127.0.0.1:" + addr[strings.LastIndex(addr, ":")+1:]
	} else {
		served <- nil
	}
	sim := paystacksim.New(paystacksim.Config{SecretKey: testPaystackKey, WebhookURL: api + "/v1/webhooks/paystack",
		RetrySchedule: []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}})
	simHandler.Store(sim)
	s := &stack{t: t, db: db, app: a, api: api, sim: sim, queue: queue, gate: &held, vars: vars}
	t.Cleanup(func() {
		sim.Close()
		s.stop()
		cancel()
		<-served
		a.close()
	})
	if o.api == "" {
		s.start(a.workerConfig())
	}

	tenant, _, err := a.tenants.CreateTenant(context.Background(), ticketing.NewTenant{Slug: "acme", Name: "Acme", Currency: "NGN",
		Admin: ticketing.NewUser{Email: "admin@acme.test", Password: "password-1", Name: "A"}})
	if err != nil {
		t.Fatal(err)
	}
	s.tenant = tenant
	return s
}

// start runs a worker with cfg until stop.
func (s *stack) start(cfg worker.Config) {
	s.workerMu.Lock()
	defer s.workerMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, s.app.rdb.UniversalClient, cfg, s.app.workerHandlers(), s.app.tasks) }()
	s.stopWorker = func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("worker: %v", err)
		}
	}
}

// stop stops the running worker, if any.
func (s *stack) stop() {
	s.workerMu.Lock()
	defer s.workerMu.Unlock()
	if s.stopWorker != nil {
		s.stopWorker()
		s.stopWorker = nil
	}
}

// sale is an event on sale with one general-admission type.
type sale struct {
	eventID, typeID string
	price           int64
	capacity        int
}

func (s *stack) newSale(capacity int) sale {
	s.t.Helper()
	ctx := s.systemCtx()
	venueCap := max(1000, capacity)
	venue, err := postgres.NewVenueService(s.app.db).CreateVenue(ctx, ticketing.NewVenue{Name: "Hall", Timezone: "Africa/Lagos", Capacity: &venueCap})
	if err != nil {
		s.t.Fatal(err)
	}
	events := postgres.NewEventService(s.app.db)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Show", StartsAt: start, EndsAt: start.Add(time.Hour), SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		s.t.Fatal(err)
	}
	price := int64(150000)
	tt, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &price, Capacity: &capacity})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		s.t.Fatal(err)
	}
	s.events = append(s.events, e.ID)
	return sale{eventID: e.ID, typeID: tt.ID, price: price, capacity: capacity}
}

// call sends a JSON request to the API as the tenant and decodes the answer.
func (s *stack) call(method, path, token string, body any, headers ...string) (int, map[string]any) {
	s.t.Helper()
	code, out, err := s.do(method, path, token, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	return code, out
}

// do is call for any goroutine: it returns the error instead of failing.
func (s *stack) do(method, path, token string, body any, headers ...string) (int, map[string]any, error) {
	code, out, _, err := callAPI(http.DefaultClient, s.api, method, path, token, body, headers...)
	return code, out, err
}

// callAPI sends a JSON request as the tenant acme through client to the API
// at base, and decodes the answer; closed tells whether the response closed
// its connection.
func callAPI(client *http.Client, base, method, path, token string, body any, headers ...string) (code int, out map[string]any, closed bool, err error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, r)
	req.Header.Set("X-Tenant", "acme")
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, false, err
	}
	defer res.Body.Close()
	out = map[string]any{}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out, res.Close, nil
}

// buyer signs up a buyer and returns the access token.
func (s *stack) buyer(email string) string {
	s.t.Helper()
	code, out := s.call("POST", "/v1/auth/signup", "", map[string]any{"email": email, "password": "buyer-pass-123", "name": "B"})
	if code != 201 {
		s.t.Fatalf("signup: %d %v", code, out)
	}
	return out["accessToken"].(string)
}

func (s *stack) book(token string, sl sale, qty int) string {
	s.t.Helper()
	code, out := s.call("POST", "/v1/bookings", token, map[string]any{"eventId": sl.eventID, "items": []any{map[string]any{"ticketTypeId": sl.typeID, "quantity": qty}}})
	if code != 201 {
		s.t.Fatalf("book: %d %v", code, out)
	}
	return out["id"].(string)
}

// startPayment opens a payment attempt and returns its reference.
func (s *stack) startPayment(token, bookingID string) string {
	s.t.Helper()
	code, out := s.call("POST", "/v1/bookings/"+bookingID+"/payments", token, nil)
	if code != 201 && code != 200 {
		s.t.Fatalf("start payment: %d %v", code, out)
	}
	if !strings.HasPrefix(out["authorizationUrl"].(string), "http") {
		s.t.Fatalf("no authorizationUrl: %v", out)
	}
	return out["reference"].(string)
}

// checkout puts a sale of capacity on, has a buyer book qty tickets and open
// a payment attempt: the sale, the buyer's token, the booking and the
// reference.
func (s *stack) checkout(capacity, qty int) (sale, string, string, string) {
	s.t.Helper()
	sl, token, b := s.pending(capacity, qty)
	return sl, token, b, s.startPayment(token, b)
}

// pending puts a sale of capacity on and has a buyer book qty tickets: the
// sale, the buyer's token and the pending booking.
func (s *stack) pending(capacity, qty int) (sale, string, string) {
	s.t.Helper()
	sl := s.newSale(capacity)
	token := s.buyer("ada@example.com")
	return sl, token, s.book(token, sl, qty)
}

// pay completes the checkout in the simulator; it returns the redirect.
func (s *stack) pay(reference, outcome string) string {
	s.t.Helper()
	redirect, err := s.sim.Pay(context.Background(), reference, outcome)
	if err != nil {
		s.t.Fatal(err)
	}
	return redirect
}

// follow sends the buyer's browser to the redirect's path on the API.
func (s *stack) follow(redirect string) map[string]any {
	s.t.Helper()
	u, err := url.Parse(redirect)
	if err != nil || u.Path != "/v1/payments/callback" {
		s.t.Fatalf("redirect %q does not go to the callback", redirect)
	}
	code, out := s.call("GET", u.Path+"?"+u.RawQuery, "", nil)
	if code != 200 {
		s.t.Fatalf("callback: %d %v", code, out)
	}
	return out
}

func (s *stack) bookingStatus(id string) string {
	s.t.Helper()
	var st string
	if err := s.db.Admin.QueryRow(context.Background(), "SELECT status FROM bookings WHERE id = $1", id).Scan(&st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// waitFor polls cond for up to 20 s.
func (s *stack) waitFor(what string, cond func() bool) {
	s.t.Helper()
	s.waitLonger(20*time.Second, what, cond)
}

// waitLonger is waitFor with a deadline of d.
func (s *stack) waitLonger(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *stack) waitStatus(bookingID, want string) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("booking %s is %s, want %s", bookingID, s.bookingStatus(bookingID), want), func() bool { return s.bookingStatus(bookingID) == want })
}

func (s *stack) count(q string, args ...any) int {
	s.t.Helper()
	var n int
	if err := s.db.Admin.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// checkInvariants: every successful charge at Paystack is a confirmed
// booking (settled by exactly that payment), a refund, or a booking under
// review (refunded once an admin decides); no booking is confirmed twice;
// sold counters and tickets match the confirmed bookings.
func (s *stack) checkInvariants() {
	s.t.Helper()
	if err := s.sim.WaitIdle(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	s.waitSettled()
	s.waitRefunds()
	s.checkMoney()
	for _, tx := range s.sim.Transactions() {
		if tx.Status != paystack.StatusSuccess {
			continue
		}
		var status, outcome, bookingStatus string
		err := s.db.Admin.QueryRow(context.Background(), `SELECT p.status, p.outcome, b.status FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE p.reference = $1`, tx.Reference).
			Scan(&status, &outcome, &bookingStatus)
		if err != nil {
			s.t.Errorf("charge %s: no payment: %v", tx.Reference, err)
			continue
		}
		refunds := s.count("SELECT count(*) FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.reference = $1 AND r.kind = 'automatic'", tx.Reference)
		decided := s.count("SELECT count(*) FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.reference = $1 AND r.kind = 'admin'", tx.Reference)
		switch {
		case status != "success":
			s.t.Errorf("charge %s: payment is %s, want success", tx.Reference, status)
		case outcome == "" && bookingStatus != "confirmed":
			s.t.Errorf("charge %s settled its booking, which is %s", tx.Reference, bookingStatus)
		case outcome == ticketing.CodeAmountMismatch && bookingStatus != "review" && decided == 0:
			s.t.Errorf("charge %s did not match, booking is %s with the charge unrefunded, want review", tx.Reference, bookingStatus)
		case outcome != "" && outcome != ticketing.CodeAmountMismatch && refunds != 1:
			s.t.Errorf("charge %s (%s) has %d refunds, want 1", tx.Reference, outcome, refunds)
		}
	}
	if n := s.count(`SELECT count(*) FROM (SELECT booking_id FROM payments WHERE status = 'success' AND outcome = '' GROUP BY booking_id HAVING count(*) > 1) x`); n != 0 {
		s.t.Errorf("%d bookings confirmed by more than one payment", n)
	}
	if n := s.count(`SELECT count(*) FROM bookings b WHERE status = 'confirmed' AND
		(SELECT count(*) FROM tickets k WHERE k.booking_id = b.id) <> (SELECT sum(quantity) FROM booking_items i WHERE i.booking_id = b.id)`); n != 0 {
		s.t.Errorf("%d confirmed bookings whose tickets do not match their items", n)
	}
	if n := s.count(`SELECT count(*) FROM ticket_types t WHERE t.sold <> (SELECT count(*) FROM tickets k WHERE k.ticket_type_id = t.id AND k.status <> 'void')`); n != 0 {
		s.t.Errorf("%d ticket types whose sold count differs from their tickets that are not void", n)
	}
	if n := s.count(`SELECT count(*) FROM tickets k JOIN bookings b ON b.id = k.booking_id WHERE b.status NOT IN ('confirmed', 'review', 'refunded')`); n != 0 {
		s.t.Errorf("%d tickets of bookings that are not confirmed", n)
	}
	if n := s.count(`SELECT count(*) FROM tickets k JOIN bookings b ON b.id = k.booking_id WHERE (b.status = 'refunded') <> (k.status = 'void')`); n != 0 {
		s.t.Errorf("%d tickets void but not refunded, or of a refunded booking but not void", n)
	}
	// Redis agrees with Postgres: available + held + sold = capacity, and
	// what each holds and sells is what the other says.
	s.waitFor("settlements reach Redis", func() bool { return s.count("SELECT count(*) FROM payments WHERE NOT inventory_synced") == 0 })
	for _, eventID := range s.events {
		var out bytes.Buffer
		if err := s.app.checkInventory(context.Background(), inventory.Event{TenantID: s.tenant.ID, EventID: eventID}, &out); err != nil {
			s.t.Errorf("inventory of event %s: %v\n%s", eventID, err, out.String())
		}
	}
}

// charged returns what Paystack charged for each booking: its successful
// charges, and those it reversed since (refunded at Paystack).
func (s *stack) charged() map[string]int64 {
	out := map[string]int64{}
	for _, tx := range s.sim.Transactions() {
		if tx.Status != paystack.StatusSuccess && tx.Status != paystack.StatusReversed {
			continue
		}
		bookingID, _, ok := ticketing.ParseReference(tx.Reference)
		if !ok {
			s.t.Fatalf("Paystack charged a reference that is not ours: %s", tx.Reference)
		}
		out[bookingID] += tx.Amount
	}
	return out
}

// waitSettled waits until every charge Paystack made is settled here: the
// webhook's task, the redirect or the reconciler applies each one.
func (s *stack) waitSettled() {
	s.t.Helper()
	s.waitFor("every Paystack charge is settled", func() bool {
		for _, tx := range s.sim.Transactions() {
			if tx.Status == paystack.StatusSuccess && s.count("SELECT count(*) FROM payments WHERE reference = $1 AND status = 'success'", tx.Reference) != 1 {
				return false
			}
		}
		return true
	})
}

// waitRefunds waits until Paystack has finished every refund asked of it
// and we have recorded its word: the refund tasks, the refund webhooks or
// the reconciler follow each one.
func (s *stack) waitRefunds() {
	s.t.Helper()
	// Hundreds of refunds (a cancelled event's) take a while to follow.
	s.waitLonger(3*time.Minute, "every refund is processed or failed", func() bool {
		return s.count("SELECT count(*) FROM refunds WHERE status NOT IN ('processed', 'failed')") == 0
	})
}

// checkMoney checks the money invariant for every booking: what Paystack
// charged = what confirmed the booking and was kept + what was refunded or
// is owed back (a refund not failed: of a charge that could not become
// tickets, or part of the one that confirmed the booking, or what a
// decision about a booking under review gave back) + what awaits review
// (an amount that did not match, while its booking is under review). No
// refund failed, and no booking was refunded more than it paid. Paystack
// agrees with the refunds: for each charge, its refunds that did not fail
// come to what ours that did not fail come to, and those it processed to
// those we record processed.
func (s *stack) checkMoney() {
	s.t.Helper()
	charged := s.charged()
	rows, err := s.db.Admin.Query(context.Background(), `
		SELECT b.id::text, b.status,
		  (SELECT COALESCE(sum(p.paid_amount), 0) FROM payments p WHERE p.booking_id = b.id AND p.status IN ('success', 'reversed') AND p.outcome = ''),
		  (SELECT COALESCE(sum(r.amount), 0) FROM refunds r WHERE r.booking_id = b.id AND r.status <> 'failed'),
		  (SELECT COALESCE(sum(r.amount), 0) FROM refunds r JOIN payments p ON p.id = r.payment_id
		   WHERE r.booking_id = b.id AND r.status <> 'failed' AND p.outcome = ''),
		  (SELECT COALESCE(sum(p.paid_amount), 0) FROM payments p WHERE p.booking_id = b.id AND p.outcome = $1 AND b.status = 'review'),
		  (SELECT count(*) FROM refunds r WHERE r.booking_id = b.id AND r.status = 'failed')
		FROM bookings b`, ticketing.CodeAmountMismatch)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		var confirmed, refunded, refundedAfter, review, failedRefunds int64
		if err := rows.Scan(&id, &status, &confirmed, &refunded, &refundedAfter, &review, &failedRefunds); err != nil {
			s.t.Fatal(err)
		}
		kept := confirmed - refundedAfter
		if got := kept + refunded + review; got != charged[id] || failedRefunds != 0 || kept < 0 {
			s.t.Errorf("booking %s (%s): Paystack charged %d, kept %d (confirmed %d, refunded since %d) + refunded %d + under review %d = %d; %d refunds failed",
				id, status, charged[id], kept, confirmed, refundedAfter, refunded, review, got, failedRefunds)
		}
		// Paid for, it is confirmed, or refunded when nothing was kept.
		if confirmed > 0 && status != "confirmed" && (status != "refunded" || kept != 0) {
			s.t.Errorf("booking %s was paid for, kept %d, and is %s", id, kept, status)
		}
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	s.checkRefundsAtPaystack()
}

// checkRefundsAtPaystack compares, charge by charge, Paystack's refunds
// with ours.
func (s *stack) checkRefundsAtPaystack() {
	s.t.Helper()
	type sums struct{ live, processed int64 }
	atPaystack := map[string]sums{}
	for _, r := range s.sim.Refunds() {
		x := atPaystack[r.TransactionReference]
		if r.Status != paystack.RefundFailed {
			x.live += r.Amount
		}
		if r.Status == paystack.RefundProcessed {
			x.processed += r.Amount
		}
		atPaystack[r.TransactionReference] = x
	}
	ours := map[string]sums{}
	rows, err := s.db.Admin.Query(context.Background(), `
		SELECT p.reference,
		  COALESCE(sum(r.amount) FILTER (WHERE r.status <> 'failed'), 0),
		  COALESCE(sum(r.amount) FILTER (WHERE r.status = 'processed'), 0)
		FROM refunds r JOIN payments p ON p.id = r.payment_id GROUP BY p.reference`)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref string
		var x sums
		if err := rows.Scan(&ref, &x.live, &x.processed); err != nil {
			s.t.Fatal(err)
		}
		ours[ref] = x
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	for ref, p := range atPaystack {
		if ours[ref] != p {
			s.t.Errorf("charge %s: Paystack refunds %d (processed %d), we record %d (processed %d)", ref, p.live, p.processed, ours[ref].live, ours[ref].processed)
		}
	}
	for ref, o := range ours {
		if _, ok := atPaystack[ref]; !ok && o.live != 0 {
			s.t.Errorf("charge %s: we record refunds of %d that Paystack does not have", ref, o.live)
		}
	}
}

func TestPaymentRedirectThenWebhook(t *testing.T) {
	t.Parallel()
	redirectThenWebhook(newStack(t))
}

// redirectThenWebhook is a sale of two tickets paid for, confirmed by the
// buyer's return and then by Paystack's webhook.
func redirectThenWebhook(s *stack) {
	t := s.t
	t.Helper()
	sl, _, b, ref := s.checkout(10, 2)
	if ref != ticketing.PaymentReference(b, 1) {
		t.Fatalf("reference %s", ref)
	}
	out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess))
	if out["bookingStatus"] != "confirmed" || out["paymentStatus"] != "success" {
		t.Fatalf("callback: %v", out)
	}
	s.waitFor("the webhook arrives", func() bool { return s.count("SELECT count(*) FROM webhook_events WHERE reference = $1", ref) == 1 })
	s.checkInvariants()
	if n := s.count("SELECT count(*) FROM tickets WHERE booking_id = $1", b); n != 2 {
		t.Fatalf("%d tickets, want 2", n)
	}
	var commits dto.Metric
	if err := s.app.metrics.BookingCommitSize.Write(&commits); err != nil || commits.GetHistogram().GetSampleSum() != 1 {
		t.Fatalf("the booking's group commit was not observed: %v %v", err, commits.GetHistogram())
	}
	code, st := s.call("GET", "/v1/events/"+sl.eventID+"/availability", "", nil)
	if code != 200 {
		t.Fatal(code)
	}
	stock := st["ticketTypes"].([]any)[0].(map[string]any)
	if stock["sold"] != float64(2) || stock["held"] != float64(0) || stock["available"] != float64(8) {
		t.Fatalf("stock after the sale: %v", stock)
	}
}

func TestPaymentWebhookBeforeRedirect(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.sim.SetFaults(paystacksim.Faults{WebhookTiming: paystacksim.TimingBeforeRedirect})
	_, _, b, ref := s.checkout(10, 1)
	redirect := s.pay(ref, paystacksim.OutcomeSuccess)
	// The webhook was answered before the redirect; its verification task
	// confirms the booking without the buyer coming back.
	s.waitStatus(b, "confirmed")
	if out := s.follow(redirect); out["bookingStatus"] != "confirmed" {
		t.Fatalf("callback after the webhook: %v", out)
	}
	s.checkInvariants()
}

func TestPaymentDuplicateWebhooksConfirmOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.sim.SetFaults(paystacksim.Faults{DuplicateWebhooks: 4})
	_, _, b, ref := s.checkout(10, 3)
	s.pay(ref, paystacksim.OutcomeSuccess) // the buyer never comes back
	s.waitStatus(b, "confirmed")
	s.waitFor("five deliveries of one event", func() bool {
		return s.count("SELECT COALESCE(sum(deliveries), 0) FROM webhook_events WHERE reference = $1", ref) == 5
	})
	if n := s.count("SELECT count(*) FROM webhook_events WHERE reference = $1", ref); n != 1 {
		t.Fatalf("%d webhook rows, want the event stored once", n)
	}
	if n := s.count("SELECT count(*) FROM audit_log WHERE action = 'payment.settle' AND entity_id = $1", ref); n != 1 {
		t.Fatalf("settled %d times, want once", n)
	}
	s.checkInvariants()
}

func TestPaymentForgedWebhookIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, _, b, ref := s.checkout(10, 1)
	body := []byte(`{"event":"charge.success","data":{"reference":"` + ref + `","status":"success","amount":150000,"currency":"NGN"}}`)
	for _, sig := range []string{"", paystack.Sign("sk_test_someone_else", body)} {
		req, _ := http.NewRequest("POST", s.api+"/v1/webhooks/paystack", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Paystack-Signature", sig)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Fatalf("signature %q: %d, want 401", sig, res.StatusCode)
		}
	}
	// The 401 is answered before anything would be stored.
	if n := s.count("SELECT count(*) FROM webhook_events"); n != 0 {
		t.Fatalf("%d webhook events stored from forged requests", n)
	}
	if st := s.bookingStatus(b); st != "pending" {
		t.Fatalf("booking %s after forged webhooks", st)
	}
	s.checkInvariants()
}

func TestPaymentProviderErrorsThenRecovery(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(10, 1)
	// Paystack answers 5xx to the initialize and its retries: 503, and the
	// next try opens the same attempt.
	s.sim.SetFaults(paystacksim.Faults{ServerErrors: 10})
	code, out := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil)
	if code != 503 || out["code"] != ticketing.CodePaymentProvider {
		t.Fatalf("initialize during an outage: %d %v", code, out)
	}
	s.sim.SetFaults(paystacksim.Faults{})
	ref := s.startPayment(token, b)
	if ref != ticketing.PaymentReference(b, 1) {
		t.Fatalf("after the outage the attempt is %s, want the first", ref)
	}
	// Paid while verify answers 5xx: the callback cannot verify, its task
	// and the reconciler retry until Paystack recovers. (The outage lasts
	// until the callback has answered, however many calls the worker makes
	// meanwhile.)
	s.sim.SetFaults(paystacksim.Faults{ServerErrors: 1 << 30, DropWebhooks: true})
	redirect := s.pay(ref, paystacksim.OutcomeSuccess)
	if out := s.follow(redirect); out["bookingStatus"] != "pending" {
		t.Fatalf("callback during an outage: %v", out)
	}
	s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
	s.waitStatus(b, "confirmed")
	s.checkInvariants()
}

func TestPaymentReconcilerConfirmsWithoutWebhookOrRedirect(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
	_, _, b, ref := s.checkout(10, 1)
	s.pay(ref, paystacksim.OutcomeSuccess) // no webhook, and the buyer closed the tab
	s.waitStatus(b, "confirmed")
	if n := s.count("SELECT count(*) FROM webhook_events"); n != 0 {
		t.Fatalf("%d webhooks arrived; the test needs none", n)
	}
	s.checkInvariants()
}

func TestPaymentAmountMismatchPutsBookingUnderReview(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sl, _, b, ref := s.checkout(10, 2)
	// What we expect differs from what Paystack charges (a tampered or
	// misconfigured checkout).
	if _, err := s.db.Admin.Exec(context.Background(), "UPDATE payments SET amount = amount + 100 WHERE reference = $1", ref); err != nil {
		t.Fatal(err)
	}
	out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess))
	if out["bookingStatus"] != "review" {
		t.Fatalf("callback: %v", out)
	}
	if n := s.count("SELECT count(*) FROM tickets WHERE booking_id = $1", b); n != 0 {
		t.Fatalf("%d tickets issued for a mismatched charge", n)
	}
	var note string
	if err := s.db.Admin.QueryRow(context.Background(), "SELECT review_note FROM bookings WHERE id = $1", b).Scan(&note); err != nil || !strings.Contains(note, "expected NGN 3001.00") {
		t.Fatalf("review note %q (%v)", note, err)
	}
	// Its hold went back on sale.
	code, st := s.call("GET", "/v1/events/"+sl.eventID+"/availability", "", nil)
	if stock := st["ticketTypes"].([]any)[0].(map[string]any); code != 200 || stock["available"] != float64(10) {
		t.Fatalf("stock after the mismatch: %d %v", code, st)
	}
	s.checkInvariants()
}

// expire makes a booking's hold run out now, in Postgres and in Redis.
func (s *stack) expire(sl sale, bookingID string) {
	s.t.Helper()
	if _, err := s.db.Admin.Exec(context.Background(), "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1", bookingID); err != nil {
		s.t.Fatal(err)
	}
	ctx := s.systemCtx()
	if err := s.app.bookings.EventChanged(ctx, sl.eventID); err != nil { // rebuilt without the hold
		s.t.Fatal(err)
	}
}

func TestPaymentLateWithTicketsLeftIsConfirmed(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.stop() // no expiry racing the test; the callback settles
	sl, _, b, ref := s.checkout(10, 2)
	s.expire(sl, b)
	out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess))
	if out["bookingStatus"] != "confirmed" {
		t.Fatalf("late payment with tickets left: %v", out)
	}
	s.checkInvariants()
}

func TestPaymentLateAndSoldOutIsRefunded(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sl, _, b, ref := s.checkout(3, 2)
	s.expire(sl, b)
	other := s.buyer("bob@example.com")
	s.book(other, sl, 3) // the tickets went to someone else meanwhile
	out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess))
	if out["bookingStatus"] != "failed" {
		t.Fatalf("late payment, sold out: %v", out)
	}
	var reason string
	if err := s.db.Admin.QueryRow(context.Background(), "SELECT failure_reason FROM bookings WHERE id = $1", b).Scan(&reason); err != nil || reason != ticketing.CodeLatePaymentSoldOut {
		t.Fatalf("failure reason %q (%v)", reason, err)
	}
	// The worker asks Paystack for the refund.
	s.waitFor("the refund reaches Paystack and is processed", func() bool {
		return s.count("SELECT count(*) FROM refunds WHERE booking_id = $1 AND status = 'processed' AND paystack_id IS NOT NULL", b) == 1
	})
	s.checkInvariants()
}

func TestPaymentWorkerStoppedMidVerification(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, _, b, ref := s.checkout(10, 1)
	// Paystack does not answer the webhook's verification until the worker
	// has stopped, with no time to finish.
	s.stop()
	cfg := s.app.workerConfig()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	cfg.ReconcileInterval = time.Hour // only the webhook's task may settle
	s.start(cfg)
	held := s.holdPaystack(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/transaction/verify/") })
	s.pay(ref, paystacksim.OutcomeSuccess)
	s.wait("the verification asks Paystack", held.arrived)
	s.stop()
	if st := s.bookingStatus(b); st != "pending" {
		t.Fatalf("booking %s before the task was redelivered", st)
	}
	// The stopping worker put the task it could not finish back on the
	// queue: the next worker takes it at once, not after its lease runs out.
	if info, err := s.app.tasks.Inspector().GetTaskInfo(s.queue, "payment-verify:"+ref); err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("the unfinished task after the worker stopped: %+v %v, want it pending", info, err)
	}
	close(held.release)
	s.start(cfg) // another worker takes the unfinished task
	s.waitStatus(b, "confirmed")
	if n := s.count("SELECT count(*) FROM audit_log WHERE action = 'payment.settle' AND entity_id = $1", ref); n != 1 {
		t.Fatalf("settled %d times, want once", n)
	}
	s.checkInvariants()
}

func TestPaymentAbandonedCheckoutStaysOpen(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(10, 1)
	_, first := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil)
	// The buyer leaves the checkout and comes back: abandoned is not final
	// at Paystack, and the anonymous callback does not close the attempt.
	if out := s.follow(s.pay(first["reference"].(string), paystacksim.OutcomeAbandon)); out["paymentStatus"] != "initialized" || out["bookingStatus"] != "pending" {
		t.Fatalf("after abandoning: %v", out)
	}
	// Starting again asks Paystack (once the callback's answer is old
	// enough to ask again) and hands out the same checkout.
	s.waitFor("the attempt's last answer is old enough to ask again", func() bool {
		return s.count("SELECT count(*) FROM payments WHERE booking_id = $1 AND updated_at < now() - interval '2 seconds'", b) == 1
	})
	code, again := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil)
	if code != 200 || again["reference"] != first["reference"] || again["accessCode"] != first["accessCode"] {
		t.Fatalf("starting again after abandoning: %d %v, first %v", code, again, first)
	}
	if out := s.follow(s.pay(first["reference"].(string), paystacksim.OutcomeSuccess)); out["bookingStatus"] != "confirmed" {
		t.Fatalf("paying the checkout left before: %v", out)
	}
	s.checkInvariants()
}

func TestPaymentDeclinedLeavesBookingPending(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b, ref := s.checkout(10, 1)
	if out := s.follow(s.pay(ref, paystacksim.OutcomeDecline)); out["paymentStatus"] != "failed" || out["bookingStatus"] != "pending" {
		t.Fatalf("after a decline: %v", out)
	}
	// A failed attempt is asked about again, but not within the pause
	// after the last question (here an hour): reloading the callback does
	// not hammer Paystack.
	var nf *ticketing.ErrNotFinal
	paced := s.paymentService(payment.Config{RecheckAfter: time.Hour}, s.app.stock)
	if _, _, err := paced.VerifyPayment(s.systemCtx(), ref); !errors.As(err, &nf) || nf.RetryAt.IsZero() {
		t.Fatalf("verifying the declined attempt again within the pause: %v, want a pause", err)
	}
	if next := s.startPayment(token, b); next != ticketing.PaymentReference(b, 2) {
		t.Fatalf("attempt after a decline: %s", next)
	}
	s.checkInvariants()
}

func TestPaymentReconcilerFindsChargeOfAnAbandonedAttempt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
	sl, _, b, ref := s.checkout(10, 1)
	// The hold runs out unpaid: the expiry asks Paystack (not paid yet),
	// abandons the attempt and expires the booking. Only Paystack's list of
	// charges can bring a later payment back.
	s.expire(sl, b)
	s.waitStatus(b, "expired")
	s.waitFor("the expired booking's attempt is abandoned", func() bool {
		return s.count("SELECT count(*) FROM payments WHERE reference = $1 AND status = 'abandoned'", ref) == 1
	})
	s.waitFor(`ticketd_payments_total{outcome="abandoned"} counts it`, func() bool {
		var abandoned dto.Metric
		return s.app.metrics.Payments.WithLabelValues("abandoned").Write(&abandoned) == nil && abandoned.GetCounter().GetValue() == 1
	})
	s.pay(ref, paystacksim.OutcomeSuccess) // no webhook, no redirect followed
	s.waitStatus(b, "confirmed")           // a late payment, with tickets left
	s.checkInvariants()
}

// paymentService is a payment service of the stack's own parts with cfg
// (PublicURL filled in) and the inventory inv.
func (s *stack) paymentService(cfg payment.Config, inv payment.Inventory) *payment.Service {
	cfg.PublicURL = s.app.cfg.PublicURL
	return payment.New(paystack.New(s.app.cfg.PaystackBaseURL, testPaystackKey), s.app.paystore, inv, s.app.tasks, s.app.logger, s.app.metrics, cfg)
}

// systemCtx acts for the test's tenant as the system.
func (s *stack) systemCtx() context.Context {
	return ticketing.WithActor(ticketing.WithTenant(context.Background(), s.tenant), ticketing.SystemActor("test"))
}

func TestPaymentCrashAfterCommitIsFinishedByTheNextVerification(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.stop()
	s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
	sl, _, _, ref := s.checkout(1, 1)
	s.pay(ref, paystacksim.OutcomeSuccess)
	// The settlement commits, and the process dies before Redis hears of it.
	st, err := s.app.paystore.Settle(s.systemCtx(), ref, ticketing.Charge{Reference: ref, Status: "success", Amount: sl.price, Currency: "NGN"}, ticketing.SettleNormal, "")
	if err != nil || !st.Confirmed {
		t.Fatalf("settle: %+v %v", st, err)
	}
	// The redelivered task (or the callback, or the reconciler) finishes it.
	if p, _, err := s.app.payments.VerifyPayment(s.systemCtx(), ref); err != nil || p.Status != ticketing.PaymentSuccess || !p.InventorySynced {
		t.Fatalf("verify after the crash: %+v %v", p, err)
	}
	s.checkInvariants()
	// The ticket is sold in Redis too: nobody can hold it, even once the
	// hold's time has passed.
	code, out := s.call("POST", "/v1/bookings", s.buyer("bob@example.com"), map[string]any{"eventId": sl.eventID, "items": []any{map[string]any{"ticketTypeId": sl.typeID, "quantity": 1}}})
	if code != 409 || out["code"] != ticketing.CodeSoldOut {
		t.Fatalf("booking the sold ticket: %d %v", code, out)
	}
}

// sweepingStock runs the expiry sweep and another buyer's booking right
// after a hold, to race the late payment's settlement.
type sweepingStock struct {
	*inventory.Store
	after func()
}

func (w *sweepingStock) Hold(ctx context.Context, ev inventory.Event, h inventory.Hold) error {
	err := w.Store.Hold(ctx, ev, h)
	if err == nil && w.after != nil {
		w.after()
		w.after = nil
	}
	return err
}

func TestPaymentLateHoldSurvivesTheExpirySweep(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.stop()
	s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
	sl, _, b, ref := s.checkout(2, 2)
	s.pay(ref, paystacksim.OutcomeSuccess)
	s.expire(sl, b) // paid, but the hold ran out before anyone verified
	other := s.buyer("bob@example.com")
	stock := &sweepingStock{Store: s.app.stock, after: func() {
		// The expiry runs between the late payment's hold and its
		// settlement, and another buyer tries for the same tickets.
		if _, err := s.app.bookings.SweepExpired(s.systemCtx()); err != nil {
			t.Error(err)
		}
		code, out := s.call("POST", "/v1/bookings", other, map[string]any{"eventId": sl.eventID, "items": []any{map[string]any{"ticketTypeId": sl.typeID, "quantity": 2}}})
		if code != 409 {
			t.Errorf("the late payment's tickets were held by another buyer: %d %v", code, out)
		}
	}}
	svc := s.paymentService(payment.Config{}, stock)
	if _, bk, err := svc.VerifyPayment(s.systemCtx(), ref); err != nil || bk == nil || bk.Status != ticketing.BookingConfirmed {
		t.Fatalf("late payment: %+v %v", bk, err)
	}
	s.checkInvariants()
}

func TestPaymentFreeBookingIsConfirmedWithoutCheckout(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(5, 1)
	if _, err := s.db.Admin.Exec(context.Background(), "UPDATE bookings SET total = 0 WHERE id = $1", b); err != nil {
		t.Fatal(err)
	}
	code, out := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil)
	if code != 201 || out["free"] != true || out["authorizationUrl"] != "" {
		t.Fatalf("paying a free booking: %d %v", code, out)
	}
	if st := s.bookingStatus(b); st != "confirmed" {
		t.Fatalf("free booking is %s", st)
	}
	if n := len(s.sim.Transactions()); n != 0 {
		t.Fatalf("Paystack saw %d transactions for a free booking", n)
	}
	s.checkInvariants()
}

func TestPaymentOfACancelledBookingIsRefused(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(5, 1)
	s.startPayment(token, b)
	if code, out := s.call("POST", "/v1/bookings/"+b+"/cancel", token, nil); code != 200 {
		t.Fatalf("cancel: %d %v", code, out)
	}
	if code, out := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil); code != 409 || out["code"] != ticketing.CodeInvalidState {
		t.Fatalf("paying a cancelled booking with an open attempt: %d %v", code, out)
	}
	s.checkInvariants()
}
