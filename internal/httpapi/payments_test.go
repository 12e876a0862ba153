package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// newPaySale publishes an event selling 20 general admission tickets of
// 5000.00 NGN (maxPerOrder 6) on an API built with configure, with two
// buyers signed in.
func newPaySale(t *testing.T, configure ...func(*httpapi.Config, *httpapi.Deps)) *sale {
	t.Helper()
	api := newTestAPI(t, configure...)
	api.createTenant("acme")
	c := &catalog{testAPI: api, slug: "acme", token: api.signinAdmin("acme").access}
	s := &sale{catalog: c}
	s.event = id(c.event(id(c.venue(nil))))
	s.ga = id(c.gaType(s.event, 20))
	c.mustCall(200, "POST", "/v1/events/"+s.event+"/publish", nil)
	for i := range 2 {
		s.buyers = append(s.buyers, c.signup(c.slug, fmt.Sprintf("buyer%d@example.com", i)))
	}
	return s
}

// bookGA books n general admission tickets for buyer and returns the
// booking's id.
func (s *sale) bookGA(buyer session, n int) string {
	s.t.Helper()
	res := s.book(buyer, s.gaBody(n))
	if res.status != 201 {
		s.t.Fatalf("book: %d %s", res.status, res.raw)
	}
	return id(res.body)
}

// pay opens (or reopens) a payment of a booking as buyer; headers are
// name, value pairs.
func (s *sale) pay(buyer session, bookingID string, headers ...string) response {
	s.t.Helper()
	r := request{method: "POST", path: "/v1/bookings/" + bookingID + "/payments", host: s.slug + ".tickets.test",
		headers: map[string]string{"Authorization": "Bearer " + buyer.access}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.headers[headers[i]] = headers[i+1]
	}
	return s.do(r)
}

// checkout opens a payment of a booking and returns its reference.
func (s *sale) checkout(buyer session, bookingID string) string {
	s.t.Helper()
	res := s.pay(buyer, bookingID)
	if res.status != 201 {
		s.t.Fatalf("start payment: %d %s", res.status, res.raw)
	}
	return res.body["reference"].(string)
}

// simPay completes the simulator's checkout of ref with outcome and
// returns the URL Paystack sends the buyer back to.
func (a *testAPI) simPay(ref, outcome string) string {
	a.t.Helper()
	redirect, err := a.sim.Pay(a.t.Context(), ref, outcome)
	if err != nil {
		a.t.Fatal(err)
	}
	return redirect
}

// simIdle waits until the simulator has delivered its webhooks.
func (a *testAPI) simIdle() {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.t.Context(), 10*time.Second)
	defer cancel()
	if err := a.sim.WaitIdle(ctx); err != nil {
		a.t.Fatalf("simulator still busy: %v", err)
	}
}

// callback follows Paystack's redirect to the API.
func (a *testAPI) callback(redirect string, headers map[string]string) response {
	a.t.Helper()
	u, err := url.Parse(redirect)
	if err != nil || u.Path != "/v1/payments/callback" {
		a.t.Fatalf("redirect %q is not the API's callback", redirect)
	}
	return a.do(request{method: "GET", path: u.RequestURI(), headers: headers})
}

// webhook posts body to the webhook route with the given signature ("" for
// none) and extra headers.
func (a *testAPI) webhook(body, signature string, headers ...string) response {
	a.t.Helper()
	r := request{method: "POST", path: "/v1/webhooks/paystack", body: body, headers: map[string]string{}}
	if signature != "" {
		r.headers[paystack.SignatureHeader] = signature
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.headers[headers[i]] = headers[i+1]
	}
	return a.do(r)
}

// storedWebhook is a row of webhook_events.
type storedWebhook struct {
	event, reference string
	deliveries       int
}

// webhooks returns the stored webhooks by the hex SHA-256 of their body.
func (a *testAPI) webhooks() map[string]storedWebhook {
	a.t.Helper()
	rows, err := a.db.Admin.Query(a.t.Context(), "SELECT body_sha256, event, reference, deliveries FROM webhook_events")
	if err != nil {
		a.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]storedWebhook{}
	for rows.Next() {
		var sum string
		var w storedWebhook
		if err := rows.Scan(&sum, &w.event, &w.reference, &w.deliveries); err != nil {
			a.t.Fatal(err)
		}
		out[sum] = w
	}
	if err := rows.Err(); err != nil {
		a.t.Fatal(err)
	}
	return out
}

// metric returns the line of the metrics page that starts with prefix, or "".
func (a *testAPI) metric(prefix string) string {
	a.t.Helper()
	for _, line := range strings.Split(string(a.do(request{method: "GET", path: "/metrics"}).raw), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

func sha(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

func chargeSuccess(ref string, amount int64) string {
	return fmt.Sprintf(`{"event":"charge.success","data":{"id":4099260516,"status":"success","reference":%q,"amount":%d,"currency":"NGN"}}`, ref, amount)
}

func TestStartPayment(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer, other := s.buyers[0], s.buyers[1]
	booking := s.bookGA(buyer, 2)

	first := s.pay(buyer, booking)
	if first.status != 201 || first.body["reference"] != "bk-"+booking+"-1" || first.body["accessCode"] == "" ||
		!strings.HasPrefix(first.body["authorizationUrl"].(string), s.simURL+"/checkout/") {
		t.Fatalf("start201: %d %s", first.status, first.raw)
	}
	again := s.pay(buyer, booking)
	if again.status != 200 || again.body["reference"] != first.body["reference"] || again.body["authorizationUrl"] != first.body["authorizationUrl"] {
		t.Fatalf("again200: %d %s", again.status, again.raw)
	}
	txs := s.sim.Transactions()
	if len(txs) != 1 || txs[0].Reference != "bk-"+booking+"-1" || txs[0].Amount != 1000000 || txs[0].Currency != "NGN" || txs[0].Customer.Email != "buyer0@example.com" {
		t.Fatalf("Paystack saw %+v; want one initialize of 2 × 5000.00 NGN for the buyer", txs)
	}

	t.Run("otherBuyer404", func(t *testing.T) {
		assertError(t, s.pay(other, booking), 404, "NOT_FOUND")
	})
	t.Run("adminNotOwner404", func(t *testing.T) {
		assertError(t, s.call("POST", "/v1/bookings/"+booking+"/payments", nil), 404, "NOT_FOUND")
	})
	t.Run("malformedID404", func(t *testing.T) {
		assertError(t, s.pay(buyer, "not-a-booking"), 404, "NOT_FOUND")
	})
	t.Run("cancelled409", func(t *testing.T) {
		b := s.bookGA(other, 1)
		if res := s.as(other.access, s.slug, "POST", "/v1/bookings/"+b+"/cancel", nil); res.status != 200 {
			t.Fatalf("cancel: %d %s", res.status, res.raw)
		}
		assertError(t, s.pay(other, b), 409, "INVALID_STATE")
	})
	t.Run("holdRanOut409", func(t *testing.T) {
		b := s.bookGA(other, 1)
		if _, err := s.db.Admin.Exec(t.Context(), "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1", b); err != nil {
			t.Fatal(err)
		}
		assertError(t, s.pay(other, b), 409, "INVALID_STATE")
	})
	t.Run("idempotencyKeyLongerThan255_400", func(t *testing.T) {
		assertError(t, s.pay(other, s.bookGA(other, 1), "Idempotency-Key", strings.Repeat("k", 256)), 400, "VALIDATION_FAILED")
	})
}

// TestPaymentIdempotencyKey: a retry with the key of an open attempt returns
// that attempt; with the key of an attempt that has since failed it is a 409
// (its checkout is spent), and a new key gets a new attempt.
func TestPaymentIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer := s.buyers[0]
	booking := s.bookGA(buyer, 1)
	first := s.pay(buyer, booking, "Idempotency-Key", "pay-1")
	if first.status != 201 {
		t.Fatalf("start: %d %s", first.status, first.raw)
	}
	ref := first.body["reference"].(string)
	if retry := s.pay(buyer, booking, "Idempotency-Key", "pay-1"); retry.status != 200 || retry.body["reference"] != ref || retry.body["authorizationUrl"] != first.body["authorizationUrl"] {
		t.Fatalf("retry with the key: %d %s, want the first attempt", retry.status, retry.raw)
	}
	s.simPay(ref, paystacksim.OutcomeDecline)
	if res := s.call("POST", "/v1/payments/"+ref+"/verify", nil); res.status != 200 || res.body["payment"].(map[string]any)["status"] != "failed" {
		t.Fatalf("verify the declined attempt: %d %s", res.status, res.raw)
	}
	assertError(t, s.pay(buyer, booking, "Idempotency-Key", "pay-1"), 409, ticketing.CodePaymentAttemptEnded)
	next := s.pay(buyer, booking, "Idempotency-Key", "pay-2")
	if next.status != 201 || next.body["reference"] != "bk-"+booking+"-2" {
		t.Fatalf("a new key after a failed attempt: %d %s, want attempt 2", next.status, next.raw)
	}
	if n := len(s.sim.Transactions()); n != 2 {
		t.Fatalf("Paystack saw %d initializes, want 2", n)
	}
}

func TestStartPaymentProviderDown(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer := s.buyers[0]
	booking := s.bookGA(buyer, 1)
	s.sim.SetFaults(paystacksim.Faults{ServerErrors: 1})
	assertError(t, s.pay(buyer, booking), 503, ticketing.CodePaymentProvider)
	// The attempt was recorded before Paystack failed; it is initialized on
	// the next call, under the same reference, and that first checkout is
	// new to the buyer (201); asking again returns it (200).
	res := s.pay(buyer, booking)
	if res.status != 201 || res.body["reference"] != "bk-"+booking+"-1" || !strings.HasPrefix(res.body["authorizationUrl"].(string), s.simURL) {
		t.Fatalf("after Paystack recovered: %d %s", res.status, res.raw)
	}
	if again := s.pay(buyer, booking); again.status != 200 || again.body["reference"] != res.body["reference"] {
		t.Fatalf("asking again: %d %s", again.status, again.raw)
	}
}

func TestPaymentWebhook(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	tenant := s.tenantID()
	booking := s.bookGA(s.buyers[0], 1)
	ref := s.checkout(s.buyers[0], booking)
	body := chargeSuccess(ref, 500000)

	res := s.webhook(body, paystack.Sign(testPaystackKey, []byte(body)))
	if res.status != 200 || res.body["status"] != "ok" {
		t.Fatalf("signed200: %d %s", res.status, res.raw)
	}
	stored := s.webhooks()
	if w := stored[sha(body)]; len(stored) != 1 || w != (storedWebhook{event: "charge.success", reference: ref, deliveries: 1}) {
		t.Fatalf("stored %+v", stored)
	}
	if got := s.queue.verified(); len(got) != 1 || got[0] != (task{tenant, ref}) {
		t.Fatalf("enqueued %v, want the verification of %s in %s", got, ref, tenant)
	}
	// The webhook is not trusted: it only asks for a verification.
	if res := s.as(s.buyers[0].access, s.slug, "GET", "/v1/bookings/"+booking, nil); res.body["status"] != "pending" {
		t.Fatalf("the webhook itself changed the booking: %s", res.raw)
	}

	t.Run("redelivered200", func(t *testing.T) {
		for range 4 {
			if res := s.webhook(body, paystack.Sign(testPaystackKey, []byte(body))); res.status != 200 {
				t.Fatalf("redelivery: %d %s", res.status, res.raw)
			}
		}
		stored := s.webhooks()
		if len(stored) != 1 || stored[sha(body)].deliveries != 5 {
			t.Fatalf("after 5 deliveries: %+v", stored)
		}
		if n := len(s.queue.verified()); n != 5 {
			t.Fatalf("%d verifications enqueued, want one per delivery", n)
		}
	})

	t.Run("badSignature401", func(t *testing.T) {
		other := chargeSuccess(ref, 1)
		for name, sig := range map[string]string{
			"missing":   "",
			"otherKey":  paystack.Sign("sk_test_someone_else", []byte(other)),
			"otherBody": paystack.Sign(testPaystackKey, []byte(body)),
			"garbage":   "not-hex",
		} {
			res := s.webhook(other, sig)
			assertError(t, res, 401, "UNAUTHORIZED")
			if _, ok := s.webhooks()[sha(other)]; ok {
				t.Fatalf("%s: a webhook with a bad signature was stored", name)
			}
		}
		if n := len(s.queue.verified()); n != 5 {
			t.Fatalf("bad signatures enqueued: %d", n)
		}
	})

	t.Run("signedNotAnEvent400", func(t *testing.T) {
		for _, bad := range []string{"not json", `{"data":{}}`} {
			assertError(t, s.webhook(bad, paystack.Sign(testPaystackKey, []byte(bad))), 400, "VALIDATION_FAILED")
			if _, ok := s.webhooks()[sha(bad)]; ok {
				t.Fatalf("%q was stored", bad)
			}
		}
	})

	t.Run("otherEventsStoredOnly200", func(t *testing.T) {
		unknown := chargeSuccess(ticketing.PaymentReference(ticketing.NewID(), 1), 100)
		foreign := chargeSuccess("T1234567890", 100)
		refund := fmt.Sprintf(`{"event":"refund.processed","data":{"id":1,"status":"processed","transaction_reference":%q,"amount":500000}}`, ref)
		for _, b := range []string{unknown, foreign, refund} {
			if res := s.webhook(b, paystack.Sign(testPaystackKey, []byte(b))); res.status != 200 {
				t.Fatalf("%s: %d %s", b, res.status, res.raw)
			}
		}
		stored := s.webhooks()
		if w := stored[sha(refund)]; w.event != "refund.processed" || w.reference != ref {
			t.Fatalf("refund event stored as %+v", w)
		}
		if _, ok := stored[sha(unknown)]; !ok || len(stored) != 4 {
			t.Fatalf("stored %+v", stored)
		}
		if n := len(s.queue.verified()); n != 5 {
			t.Fatalf("events that are not about a charge of ours enqueued verifications: %d", n)
		}
	})

	t.Run("queueDown500", func(t *testing.T) {
		s.queue.setFailVerify(true)
		defer s.queue.setFailVerify(false)
		b := chargeSuccess(ref, 499999)
		assertError(t, s.webhook(b, paystack.Sign(testPaystackKey, []byte(b))), 500, "INTERNAL")
		// Stored all the same; Paystack's redelivery enqueues it.
		s.queue.setFailVerify(false)
		if res := s.webhook(b, paystack.Sign(testPaystackKey, []byte(b))); res.status != 200 || s.webhooks()[sha(b)].deliveries != 2 {
			t.Fatalf("redelivery after the queue came back: %d %s", res.status, res.raw)
		}
		if n := len(s.queue.verified()); n != 6 {
			t.Fatalf("%d verifications enqueued, want 6", n)
		}
	})

	t.Run("counted", func(t *testing.T) {
		for result, want := range map[string]string{"accepted": "5", "duplicate": "5", "bad_signature": "4"} {
			if line := s.metric(`ticketd_paystack_webhooks_total{result="` + result + `"}`); !strings.HasSuffix(line, " "+want) {
				t.Errorf("%s: %q, want %s", result, line, want)
			}
		}
	})
}

func TestPaymentWebhookIPAllowlist(t *testing.T) {
	t.Parallel()
	// Test requests come from 0.0.0.0, here a trusted proxy that names the
	// client in X-Forwarded-For.
	api := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.TrustedProxies = []string{"0.0.0.0/32"}
		c.PaystackWebhookIPs = []string{"52.31.139.75", "52.214.14.0/24"}
	})
	body := chargeSuccess("T1", 100)
	sig := paystack.Sign(testPaystackKey, []byte(body))
	for name, from := range map[string]string{"noForwardedFor": "", "otherAddress": "203.0.113.9", "spoofedLeftmost": "52.31.139.75, 203.0.113.9"} {
		res := api.webhook(body, sig, "X-Forwarded-For", from)
		assertError(t, res, 403, "FORBIDDEN")
		if n := api.count("webhook_events"); n != 0 {
			t.Fatalf("%s: a webhook from outside the allowlist was stored", name)
		}
	}
	for _, from := range []string{"52.31.139.75", "52.214.14.7"} {
		if res := api.webhook(body, sig, "X-Forwarded-For", from); res.status != 200 {
			t.Fatalf("from %s: %d %s", from, res.status, res.raw)
		}
	}
	if w := api.webhooks()[sha(body)]; w.deliveries != 2 {
		t.Fatalf("stored %+v", w)
	}
	if line := api.metric(`ticketd_paystack_webhooks_total{result="forbidden_ip"}`); !strings.HasSuffix(line, " 3") {
		t.Fatalf("forbidden webhooks counted as %q", line)
	}
}

// TestWebhookFromSimulator: the simulator's own signed webhooks, duplicates
// included, reach the API over HTTP and are stored once.
func TestWebhookFromSimulator(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	ref := s.checkout(s.buyers[0], s.bookGA(s.buyers[0], 2))
	s.sim.SetFaults(paystacksim.Faults{DuplicateWebhooks: 2})
	s.simPay(ref, paystacksim.OutcomeSuccess)
	s.simIdle()
	deliveries := s.sim.Deliveries()
	for _, d := range deliveries {
		if d.StatusCode != 200 {
			t.Fatalf("delivery %+v", d)
		}
	}
	stored := s.webhooks()
	if len(deliveries) != 3 || len(stored) != 1 {
		t.Fatalf("%d deliveries, stored %+v", len(deliveries), stored)
	}
	for _, w := range stored {
		if w != (storedWebhook{event: "charge.success", reference: ref, deliveries: 3}) {
			t.Fatalf("stored %+v", w)
		}
	}
	if got := s.queue.verified(); len(got) != 3 || got[0] != (task{s.tenantID(), ref}) {
		t.Fatalf("enqueued %v", got)
	}
}

func TestPaymentCallback(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer := s.buyers[0]
	booking := s.bookGA(buyer, 2)
	ref := s.checkout(buyer, booking)
	redirect := s.simPay(ref, paystacksim.OutcomeSuccess)

	res := s.callback(redirect, nil)
	want := map[string]any{"reference": ref, "paymentStatus": "success", "bookingId": booking, "bookingStatus": "confirmed"}
	if res.status != 200 || fmt.Sprint(res.body) != fmt.Sprint(want) {
		t.Fatalf("paid200: %d %s, want %v", res.status, res.raw, want)
	}
	var status string
	var tickets int
	if err := s.db.Admin.QueryRow(t.Context(), "SELECT b.status, (SELECT count(*) FROM tickets t WHERE t.booking_id = b.id) FROM bookings b WHERE b.id = $1", booking).Scan(&status, &tickets); err != nil {
		t.Fatal(err)
	}
	if status != "confirmed" || tickets != 2 {
		t.Fatalf("booking %s with %d tickets after the callback", status, tickets)
	}
	if st := s.stockOf(s.ga); st["sold"] != float64(2) || st["held"] != float64(0) {
		t.Fatalf("stock after payment: %v", st)
	}
	if got := s.queue.verified(); len(got) == 0 || got[0] != (task{s.tenantID(), ref}) {
		t.Fatalf("the callback enqueued %v", got)
	}
	s.simIdle() // the simulator's webhook, which only enqueues

	t.Run("again200", func(t *testing.T) {
		if again := s.callback(redirect, nil); again.status != 200 || fmt.Sprint(again.body) != fmt.Sprint(want) {
			t.Fatalf("%d %s", again.status, again.raw)
		}
		if st := s.stockOf(s.ga); st["sold"] != float64(2) {
			t.Fatalf("sold twice: %v", st)
		}
	})
	t.Run("trxrefOnly200", func(t *testing.T) {
		res := s.do(request{method: "GET", path: "/v1/payments/callback?trxref=" + ref})
		if res.status != 200 || res.body["bookingStatus"] != "confirmed" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
	})
	t.Run("declined200", func(t *testing.T) {
		b := s.bookGA(s.buyers[1], 1)
		r := s.checkout(s.buyers[1], b)
		res := s.callback(s.simPay(r, paystacksim.OutcomeDecline), nil)
		if res.status != 200 || res.body["paymentStatus"] != "failed" || res.body["bookingStatus"] != "pending" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
	})
	t.Run("paystackDownStillPending200", func(t *testing.T) {
		b := s.bookGA(s.buyers[1], 1)
		r := s.checkout(s.buyers[1], b)
		redirect := s.simPay(r, paystacksim.OutcomeSuccess)
		s.simIdle()
		s.sim.SetFaults(paystacksim.Faults{ServerErrors: 1}) // a 500 is not retried
		s.queue.setFailVerify(true)
		res := s.callback(redirect, nil)
		s.queue.setFailVerify(false)
		if res.status != 200 || res.body["paymentStatus"] != "initialized" || res.body["bookingStatus"] != "pending" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		// Once Paystack answers, the same redirect confirms the booking.
		if res := s.callback(redirect, nil); res.body["bookingStatus"] != "confirmed" {
			t.Fatalf("after Paystack recovered: %s", res.raw)
		}
	})
	t.Run("unknownReference404", func(t *testing.T) {
		other := ticketing.PaymentReference(ticketing.NewID(), 1)
		assertError(t, s.do(request{method: "GET", path: "/v1/payments/callback?reference=" + other}), 404, "NOT_FOUND")
	})
	t.Run("missingOrForeignReference400", func(t *testing.T) {
		for _, q := range []string{"", "?reference=", "?reference=T123456789", "?trxref=bk-1-1"} {
			assertError(t, s.do(request{method: "GET", path: "/v1/payments/callback" + q}), 400, "VALIDATION_FAILED")
		}
	})
	t.Run("browserWithoutStorefrontURLGoesToTheShop", func(t *testing.T) {
		res := s.callback(redirect, map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
		if loc := res.header.Get("Location"); res.status != 303 || !strings.HasPrefix(loc, "http://acme.tickets.test/bookings/") {
			t.Fatalf("%d Location %q", res.status, loc)
		}
	})
}

func TestPaymentCallbackRedirectsBrowsers(t *testing.T) {
	t.Parallel()
	s := newPaySale(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.StorefrontURL = "https://shop.example" })
	booking := s.bookGA(s.buyers[0], 1)
	redirect := s.simPay(s.checkout(s.buyers[0], booking), paystacksim.OutcomeSuccess)

	res := s.callback(redirect, map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
	if want := "https://shop.example/bookings/" + booking + "?payment=success"; res.status != 303 || res.header.Get("Location") != want {
		t.Fatalf("browser: %d Location %q, want 303 to %s", res.status, res.header.Get("Location"), want)
	}
	for _, accept := range []string{"", "*/*", "application/json", "application/json, text/html;q=0.5"} {
		res := s.callback(redirect, map[string]string{"Accept": accept})
		if res.status != 200 || res.body["bookingStatus"] != "confirmed" {
			t.Fatalf("Accept %q: %d %s", accept, res.status, res.raw)
		}
	}
}

func TestAdminPayments(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer := s.buyers[0]
	paidBooking, openBooking := s.bookGA(buyer, 2), s.bookGA(buyer, 1)
	paid, open := s.checkout(buyer, paidBooking), s.checkout(buyer, openBooking)
	s.simPay(paid, paystacksim.OutcomeSuccess)
	s.simIdle()

	t.Run("verifyPaid200", func(t *testing.T) {
		res := s.call("POST", "/v1/payments/"+paid+"/verify", nil)
		p, _ := res.body["payment"].(map[string]any)
		b, _ := res.body["booking"].(map[string]any)
		if res.status != 200 || res.body["final"] != true || p["status"] != "success" || p["reference"] != paid ||
			p["paidAmount"] != float64(1000000) || p["paidCurrency"] != "NGN" || p["paystackId"] == nil || p["verifiedAt"] == nil ||
			p["gatewayResponse"] != "Successful" || b["id"] != paidBooking || b["status"] != "confirmed" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		again := s.call("POST", "/v1/payments/"+paid+"/verify", nil)
		if again.status != 200 || again.body["final"] != true || again.body["booking"].(map[string]any)["status"] != "confirmed" {
			t.Fatalf("again: %d %s", again.status, again.raw)
		}
	})
	t.Run("verifyUnreachableNotFinal200", func(t *testing.T) {
		s.sim.SetFaults(paystacksim.Faults{ServerErrors: 1})
		res := s.call("POST", "/v1/payments/"+open+"/verify", nil)
		p, _ := res.body["payment"].(map[string]any)
		if res.status != 200 || res.body["final"] != false || p["status"] != "initialized" || p["paidAmount"] != nil ||
			res.body["booking"].(map[string]any)["status"] != "pending" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
	})
	t.Run("verifyUnknown404", func(t *testing.T) {
		for _, ref := range []string{ticketing.PaymentReference(openBooking, 9), "T123456789"} {
			assertError(t, s.call("POST", "/v1/payments/"+ref+"/verify", nil), 404, "NOT_FOUND")
		}
	})
	t.Run("otherTenant404", func(t *testing.T) {
		s.createTenant("globex")
		globex := s.signinAdmin("globex").access
		assertError(t, s.as(globex, "globex", "POST", "/v1/payments/"+paid+"/verify", nil), 404, "NOT_FOUND")
		res := s.as(globex, "globex", "GET", "/v1/payments?reference="+paid, nil)
		if res.status != 200 || len(res.body["data"].([]any)) != 0 {
			t.Fatalf("another organizer lists the payment: %d %s", res.status, res.raw)
		}
	})

	t.Run("list200", func(t *testing.T) {
		res := s.call("GET", "/v1/payments", nil)
		data, _ := res.body["data"].([]any)
		if res.status != 200 || len(data) != 2 || res.body["nextCursor"] != nil {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		newest := data[0].(map[string]any)
		if newest["reference"] != open || newest["bookingId"] != openBooking || newest["attempt"] != float64(1) ||
			newest["amount"] != float64(500000) || newest["currency"] != "NGN" || newest["status"] != "initialized" {
			t.Fatalf("newest first: %v", newest)
		}
		for _, field := range []string{"id", "paystackId", "paidAmount", "paidCurrency", "gatewayResponse", "channel", "outcome", "paidAt", "verifiedAt", "createdAt", "updatedAt"} {
			if _, ok := newest[field]; !ok {
				t.Errorf("payment lacks %s: %v", field, newest)
			}
		}
		if strings.Contains(string(res.raw), "authorizationUrl") || strings.Contains(string(res.raw), "accessCode") || strings.Contains(string(res.raw), s.simURL) {
			t.Fatalf("the list shows the buyers' checkouts: %s", res.raw)
		}
		seen := walkPages(t, "/v1/payments?limit=1", "reference", func(path string) response { return s.call("GET", path, nil) })
		if len(seen) != 2 || !seen[paid] || !seen[open] {
			t.Fatalf("pages list %v", seen)
		}
	})
	t.Run("filters200", func(t *testing.T) {
		for query, want := range map[string]string{
			"status=success":           paid,
			"status=initialized":       open,
			"bookingId=" + paidBooking: paid,
			"reference=" + open:        open,
		} {
			res := s.call("GET", "/v1/payments?"+query, nil)
			data, _ := res.body["data"].([]any)
			if res.status != 200 || len(data) != 1 || data[0].(map[string]any)["reference"] != want {
				t.Fatalf("%s: %d %s", query, res.status, res.raw)
			}
		}
	})
	t.Run("badFilter400", func(t *testing.T) {
		for _, query := range []string{"status=paid", "bookingId=42", "limit=0", "cursor=garbage"} {
			assertError(t, s.call("GET", "/v1/payments?"+query, nil), 400, "VALIDATION_FAILED")
		}
	})
	t.Run("buyer403", func(t *testing.T) {
		assertError(t, s.as(buyer.access, s.slug, "GET", "/v1/payments", nil), 403, "FORBIDDEN")
		assertError(t, s.as(buyer.access, s.slug, "POST", "/v1/payments/"+open+"/verify", nil), 403, "FORBIDDEN")
	})
}

// TestReviewBooking: an admin puts a paid (confirmed) booking under review,
// keeping its tickets, and may change the note of one under review; a
// booking in any other status is refused with 409 INVALID_STATE and left as
// it was.
func TestReviewBooking(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer := s.buyers[0]
	paid, _ := s.paidBooking(buyer, 2)
	res := s.call("POST", "/v1/bookings/"+paid+"/review", map[string]any{"note": "chargeback"})
	if res.status != 200 || res.body["id"] != paid || res.body["status"] != "review" || res.body["reviewNote"] != "chargeback" {
		t.Fatalf("confirmed200: %d %s", res.status, res.raw)
	}
	if st := s.stockOf(s.ga); st["sold"] != float64(2) {
		t.Fatalf("stock after reviewing a confirmed booking: %v", st)
	}
	if res := s.as(buyer.access, s.slug, "GET", "/v1/bookings/"+paid, nil); res.body["status"] != "review" {
		t.Fatalf("the buyer sees %s", res.raw)
	}

	t.Run("underReviewNewNote200", func(t *testing.T) {
		res := s.call("POST", "/v1/bookings/"+paid+"/review", map[string]any{"note": "the bank asks for proof"})
		if res.status != 200 || res.body["status"] != "review" || res.body["reviewNote"] != "the bank asks for proof" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		if st := s.stockOf(s.ga); st["sold"] != float64(2) {
			t.Fatalf("stock after a new note: %v", st)
		}
	})
	t.Run("notPaid409", func(t *testing.T) {
		pending := s.bookGA(buyer, 3)
		cancelled := s.bookGA(buyer, 1)
		s.mustCall(200, "POST", "/v1/bookings/"+cancelled+"/cancel", nil)
		refunded, _ := s.paidBooking(buyer, 1)
		if res := s.refund(refunded, map[string]any{"amount": 500000, "reason": "all of it"}); res.status != 201 {
			t.Fatalf("refund: %d %s", res.status, res.raw)
		}
		held := s.stockOf(s.ga)
		for b, status := range map[string]string{pending: "pending", cancelled: "cancelled", refunded: "refunded"} {
			before := s.call("GET", "/v1/bookings/"+b, nil)
			if before.body["status"] != status {
				t.Fatalf("the %s booking is %s", status, before.raw)
			}
			res := s.call("POST", "/v1/bookings/"+b+"/review", map[string]any{"note": "chargeback"})
			assertError(t, res, 409, ticketing.CodeInvalidState)
			if !strings.Contains(messages(res), "the booking is "+status) {
				t.Errorf("%s: the message does not say why: %s", status, res.raw)
			}
			if after := s.call("GET", "/v1/bookings/"+b, nil); string(after.raw) != string(before.raw) {
				t.Fatalf("a refused review changed the %s booking: %s, was %s", status, after.raw, before.raw)
			}
		}
		if st := s.stockOf(s.ga); fmt.Sprint(st) != fmt.Sprint(held) {
			t.Fatalf("a refused review changed the stock: %v, was %v", st, held)
		}
		// The pending booking still holds its tickets and can be paid.
		if res := s.pay(buyer, pending); res.status != 201 {
			t.Fatalf("paying the pending booking after a refused review: %d %s", res.status, res.raw)
		}
	})
	t.Run("badNote400", func(t *testing.T) {
		for _, body := range []any{map[string]any{"note": ""}, map[string]any{}, map[string]any{"note": strings.Repeat("n", 1001)},
			map[string]any{"note": "x", "status": "confirmed"}, "not json"} {
			assertError(t, s.call("POST", "/v1/bookings/"+paid+"/review", body), 400, "VALIDATION_FAILED")
		}
		if res := s.call("GET", "/v1/bookings/"+paid, nil); res.body["reviewNote"] != "the bank asks for proof" {
			t.Fatalf("a refused review changed the booking: %s", res.raw)
		}
	})
	t.Run("unknown404", func(t *testing.T) {
		assertError(t, s.call("POST", "/v1/bookings/"+ticketing.NewID()+"/review", map[string]any{"note": "x"}), 404, "NOT_FOUND")
	})
	t.Run("buyer403", func(t *testing.T) {
		assertError(t, s.as(buyer.access, s.slug, "POST", "/v1/bookings/"+paid+"/review", map[string]any{"note": "x"}), 403, "FORBIDDEN")
	})
}
