package httpapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/payment"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// paidBooking books n tickets (5000.00 NGN each) for buyer and pays them:
// the confirmed booking and its payment's reference.
func (s *sale) paidBooking(buyer session, n int) (string, string) {
	s.t.Helper()
	b := s.bookGA(buyer, n)
	ref := s.checkout(buyer, b)
	if res := s.callback(s.simPay(ref, paystacksim.OutcomeSuccess), nil); res.body["bookingStatus"] != "confirmed" {
		s.t.Fatalf("paying: %d %s", res.status, res.raw)
	}
	s.simIdle()
	return b, ref
}

// refund asks for a refund of a booking as the admin; headers are name,
// value pairs.
func (s *sale) refund(bookingID string, body any, headers ...string) response {
	s.t.Helper()
	r := request{method: "POST", path: "/v1/bookings/" + bookingID + "/refunds", host: s.slug + ".tickets.test", body: body,
		headers: map[string]string{"Authorization": "Bearer " + s.token}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.headers[headers[i]] = headers[i+1]
	}
	return s.do(r)
}

// systemCtx acts for the sale's tenant as the worker does.
func (s *sale) systemCtx() context.Context {
	return ticketing.WithActor(ticketing.WithTenant(s.t.Context(), &ticketing.Tenant{ID: s.tenantID(), Status: ticketing.TenantActive}),
		ticketing.SystemActor("test"))
}

// runRefund runs the refund's task as the worker would, until it is done
// with the refund (processed, failed or refused) or, with once, just once.
// It returns the task's last error.
func (s *sale) runRefund(id string, once bool) error {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := s.payments.Refund(s.systemCtx(), id)
		var nf *ticketing.ErrNotFinal
		if once || !errors.As(err, &nf) {
			return err
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after 20s refund %s is not final: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond) // the simulator processes refunds in 200ms
	}
}

// getRefund returns the refund as the admin lists it.
func (s *sale) getRefund(bookingID, id string) map[string]any {
	s.t.Helper()
	res := s.call("GET", "/v1/bookings/"+bookingID+"/refunds", nil)
	for _, r := range res.body["data"].([]any) {
		if r := r.(map[string]any); r["id"] == id {
			return r
		}
	}
	s.t.Fatalf("refund %s is not among the booking's: %s", id, res.raw)
	return nil
}

func TestAdminRefunds(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer := s.buyers[0]
	booking, _ := s.paidBooking(buyer, 2) // 1,000,000
	var adminID string
	if err := s.db.Admin.QueryRow(t.Context(), "SELECT id::text FROM users WHERE role = 'ADMIN'").Scan(&adminID); err != nil {
		t.Fatal(err)
	}

	var first string
	t.Run("partial201", func(t *testing.T) {
		res := s.refund(booking, map[string]any{"amount": 300000, "reason": "  seat was broken  "})
		b := res.body
		if res.status != 201 || b["bookingId"] != booking || b["amount"] != float64(300000) || b["currency"] != "NGN" ||
			b["reason"] != "seat was broken" || b["kind"] != "admin" || b["status"] != "queued" || b["lastError"] != "" ||
			b["attempts"] != float64(1) || b["requestedBy"] != adminID || b["paymentId"] == nil {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		first = b["id"].(string)
		if got := s.queue.refunded(); len(got) != 1 || got[0] != (task{s.tenantID(), first}) {
			t.Fatalf("enqueued %v", got)
		}
		if len(s.sim.Refunds()) != 0 {
			t.Fatal("the request itself asked Paystack")
		}
		if err := s.runRefund(first, false); err != nil {
			t.Fatal(err)
		}
		if r := s.getRefund(booking, first); r["status"] != "processed" {
			t.Fatalf("after its task: %v", r)
		}
	})
	t.Run("overRemainder422NothingReachesPaystack", func(t *testing.T) {
		res := s.refund(booking, map[string]any{"amount": 700001, "reason": "too much"})
		assertError(t, res, 422, ticketing.CodeRefundExceedsPaid)
		if !strings.Contains(messages(res), "NGN 7000.00") {
			t.Errorf("the message does not say what is left: %s", res.raw)
		}
		if n := len(s.queue.refunded()); n != 1 {
			t.Fatalf("%d refunds enqueued", n)
		}
		if n := len(s.sim.Refunds()); n != 1 {
			t.Fatalf("Paystack has %d refunds, want 1", n)
		}
	})
	var keyed string
	t.Run("idempotencyKey200", func(t *testing.T) {
		body := map[string]any{"amount": 100000, "reason": "late start"}
		res := s.refund(booking, body, "Idempotency-Key", "rf-1")
		if res.status != 201 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		keyed = id(res.body)
		again := s.refund(booking, body, "Idempotency-Key", "rf-1")
		if again.status != 200 || id(again.body) != keyed {
			t.Fatalf("again: %d %s", again.status, again.raw)
		}
		assertError(t, s.refund(booking, map[string]any{"amount": 100001, "reason": "late start"}, "Idempotency-Key", "rf-1"), 409, ticketing.CodeIdempotencyKeyReused)
		assertError(t, s.refund(booking, body, "Idempotency-Key", strings.Repeat("k", 201)), 400, "VALIDATION_FAILED")
		if n := len(s.queue.refunded()); n != 2 {
			t.Fatalf("%d refunds enqueued, want one more", n)
		}
		if err := s.runRefund(keyed, false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("remainder201", func(t *testing.T) {
		res := s.refund(booking, map[string]any{"reason": "cancel the rest"})
		if res.status != 201 || res.body["amount"] != float64(600000) {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		assertError(t, s.refund(booking, map[string]any{"amount": nil, "reason": "and more"}), 422, ticketing.CodeRefundExceedsPaid)
		if err := s.runRefund(id(res.body), false); err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, r := range s.sim.Refunds() {
			total += r.Amount
		}
		if total != 1000000 {
			t.Fatalf("Paystack refunded %d, want all 1000000", total)
		}
	})
	t.Run("badInput400", func(t *testing.T) {
		other, _ := s.paidBooking(buyer, 1)
		for name, body := range map[string]any{
			"zero":         map[string]any{"amount": 0, "reason": "x"},
			"negative":     map[string]any{"amount": -5, "reason": "x"},
			"fraction":     map[string]any{"amount": 1.5, "reason": "x"},
			"string":       map[string]any{"amount": "100", "reason": "x"},
			"noReason":     map[string]any{"amount": 100},
			"blankReason":  map[string]any{"reason": "   "},
			"longReason":   map[string]any{"reason": strings.Repeat("r", 501)},
			"controlChar":  map[string]any{"reason": "ring \u0007 bell"},
			"nulChar":      map[string]any{"reason": "a\u0000b"},
			"unknownField": map[string]any{"reason": "x", "status": "processed"},
			"notAnObject":  []any{1},
		} {
			t.Run(name, func(t *testing.T) { assertError(t, s.refund(other, body), 400, "VALIDATION_FAILED") })
		}
		if res := s.refund(other, map[string]any{"reason": strings.Repeat("é", 500) + "\n\tok"}); res.status != 400 {
			// 503 runes: one too many, though newlines and tabs are fine.
			t.Fatalf("a reason of 503 characters: %d %s", res.status, res.raw)
		}
		if res := s.refund(other, map[string]any{"reason": "line one\nline\ttwo"}); res.status != 201 {
			t.Fatalf("a reason with a newline and a tab: %d %s", res.status, res.raw)
		}
	})
	t.Run("notConfirmed409", func(t *testing.T) {
		pending := s.bookGA(buyer, 1)
		assertError(t, s.refund(pending, map[string]any{"reason": "x"}), 409, ticketing.CodeInvalidState)
	})
	t.Run("unknown404", func(t *testing.T) {
		assertError(t, s.refund(ticketing.NewID(), map[string]any{"reason": "x"}), 404, "NOT_FOUND")
		assertError(t, s.refund("not-a-uuid", map[string]any{"reason": "x"}), 404, "NOT_FOUND")
		assertError(t, s.call("POST", "/v1/refunds/"+ticketing.NewID()+"/retry", nil), 404, "NOT_FOUND")
		assertError(t, s.call("GET", "/v1/bookings/"+ticketing.NewID()+"/refunds", nil), 404, "NOT_FOUND")
	})
	t.Run("retryNotFailed409", func(t *testing.T) {
		assertError(t, s.call("POST", "/v1/refunds/"+first+"/retry", nil), 409, ticketing.CodeInvalidState)
	})
	t.Run("list200", func(t *testing.T) {
		res := s.call("GET", "/v1/refunds", nil)
		data, _ := res.body["data"].([]any)
		if res.status != 200 || len(data) != 4 || res.body["nextCursor"] != nil {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		for _, field := range []string{"id", "bookingId", "paymentId", "amount", "currency", "reason", "kind", "status", "lastError", "attempts", "requestedBy", "createdAt", "updatedAt"} {
			if _, ok := data[0].(map[string]any)[field]; !ok {
				t.Errorf("refund lacks %s: %v", field, data[0])
			}
		}
		if newest := data[0].(map[string]any); newest["reason"] != "line one\nline\ttwo" || newest["status"] != "queued" {
			t.Fatalf("newest first: %v", newest)
		}
		seen := walkPages(t, "/v1/refunds?limit=1", "id", func(path string) response { return s.call("GET", path, nil) })
		if len(seen) != 4 || !seen[first] || !seen[keyed] {
			t.Fatalf("pages list %v", seen)
		}
		for query, want := range map[string]int{"status=processed": 3, "status=queued": 1, "status=failed": 0, "bookingId=" + booking: 3} {
			res := s.call("GET", "/v1/refunds?"+query, nil)
			if data, _ := res.body["data"].([]any); res.status != 200 || len(data) != want {
				t.Errorf("%s: %d refunds, want %d: %s", query, len(data), want, res.raw)
			}
		}
		for _, query := range []string{"status=refunded", "bookingId=42", "limit=0", "cursor=garbage"} {
			assertError(t, s.call("GET", "/v1/refunds?"+query, nil), 400, "VALIDATION_FAILED")
		}
	})
	t.Run("bookingRefunds200", func(t *testing.T) {
		path := "/v1/bookings/" + booking + "/refunds"
		for who, token := range map[string]string{"admin": s.token, "owner": buyer.access} {
			res := s.as(token, s.slug, "GET", path, nil)
			if data, _ := res.body["data"].([]any); res.status != 200 || len(data) != 3 {
				t.Fatalf("%s: %d %s", who, res.status, res.raw)
			}
		}
		seen := walkPages(t, path+"?limit=2", "id", func(path string) response { return s.as(buyer.access, s.slug, "GET", path, nil) })
		if len(seen) != 3 {
			t.Fatalf("pages list %v", seen)
		}
		assertError(t, s.as(s.buyers[1].access, s.slug, "GET", path, nil), 404, "NOT_FOUND")
	})
	t.Run("buyer403", func(t *testing.T) {
		assertError(t, s.as(buyer.access, s.slug, "POST", "/v1/bookings/"+booking+"/refunds", map[string]any{"reason": "x"}), 403, "FORBIDDEN")
		assertError(t, s.as(buyer.access, s.slug, "GET", "/v1/refunds", nil), 403, "FORBIDDEN")
		assertError(t, s.as(buyer.access, s.slug, "POST", "/v1/refunds/"+first+"/retry", nil), 403, "FORBIDDEN")
	})
	t.Run("otherTenant404", func(t *testing.T) {
		s.createTenant("globex")
		globex := s.signinAdmin("globex").access
		assertError(t, s.as(globex, "globex", "POST", "/v1/bookings/"+booking+"/refunds", map[string]any{"reason": "x"}), 404, "NOT_FOUND")
		assertError(t, s.as(globex, "globex", "GET", "/v1/bookings/"+booking+"/refunds", nil), 404, "NOT_FOUND")
		assertError(t, s.as(globex, "globex", "POST", "/v1/refunds/"+first+"/retry", nil), 404, "NOT_FOUND")
		res := s.as(globex, "globex", "GET", "/v1/refunds", nil)
		if data, _ := res.body["data"].([]any); res.status != 200 || len(data) != 0 {
			t.Fatalf("another organizer lists the refunds: %d %s", res.status, res.raw)
		}
	})
	t.Run("auditedAndCounted", func(t *testing.T) {
		var n int
		if err := s.db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM audit_log WHERE action = 'refund.request' AND actor_id = $1", adminID).Scan(&n); err != nil || n != 4 {
			t.Fatalf("%d refund.request audit rows (%v), want 4", n, err)
		}
		for outcome, want := range map[string]string{"accepted": "4", "replayed": "1", "exceeds_paid": "2", "invalid_state": "2"} {
			if line := s.metric(`ticketd_refunds_requested_total{outcome="` + outcome + `"}`); !strings.HasSuffix(line, " "+want) {
				t.Errorf("%s: %q, want %s", outcome, line, want)
			}
		}
		if line := s.metric(`ticketd_refunds_finished_total{kind="admin",status="processed"}`); !strings.HasSuffix(line, " 3") {
			t.Errorf("finished: %q", line)
		}
	})
}

func TestRefundFailuresAreRetried(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	booking, _ := s.paidBooking(s.buyers[0], 2)

	t.Run("failedByPaystack", func(t *testing.T) {
		s.sim.SetFaults(paystacksim.Faults{FailRefunds: 1})
		res := s.refund(booking, map[string]any{"amount": 400000, "reason": "x"})
		if res.status != 201 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		rf := id(res.body)
		if err := s.runRefund(rf, false); err != nil {
			t.Fatal(err)
		}
		r := s.getRefund(booking, rf)
		if r["status"] != "failed" || !strings.Contains(r["lastError"].(string), "failed") {
			t.Fatalf("failed at Paystack: %v", r)
		}
		// Its amount is free again, once.
		if res := s.refund(booking, map[string]any{"amount": 700000, "reason": "y"}); res.status != 201 {
			t.Fatalf("refunding what the failed refund gave back: %d %s", res.status, res.raw)
		}
		assertError(t, s.call("POST", "/v1/refunds/"+rf+"/retry", nil), 422, ticketing.CodeRefundExceedsPaid)
		s.sim.SetFaults(paystacksim.Faults{FailRefunds: 1})
		if err := s.runRefund(id(s.call("GET", "/v1/refunds?status=queued", nil).body["data"].([]any)[0].(map[string]any)), false); err != nil {
			t.Fatal(err)
		}
		retried := s.call("POST", "/v1/refunds/"+rf+"/retry", nil)
		if retried.status != 200 || retried.body["status"] != "queued" || retried.body["attempts"] != float64(2) || retried.body["lastError"] != "" {
			t.Fatalf("retry: %d %s", retried.status, retried.raw)
		}
		if err := s.runRefund(rf, false); err != nil {
			t.Fatal(err)
		}
		if r := s.getRefund(booking, rf); r["status"] != "processed" {
			t.Fatalf("after the retry: %v", r)
		}
	})
	t.Run("refusedByPaystack", func(t *testing.T) {
		s.sim.SetFaults(paystacksim.Faults{RejectRefunds: 1})
		res := s.refund(booking, map[string]any{"amount": 1000, "reason": "z"})
		if res.status != 201 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		rf := id(res.body)
		before := len(s.sim.Refunds())
		if err := s.runRefund(rf, true); !errors.Is(err, payment.ErrRefused) {
			t.Fatalf("the task's answer to a refused refund: %v", err)
		}
		r := s.getRefund(booking, rf)
		if r["status"] != "failed" || !strings.Contains(r["lastError"].(string), "Refund could not be processed") {
			t.Fatalf("refused by Paystack: %v", r)
		}
		// The task is done with it: running it again asks Paystack nothing.
		if err := s.runRefund(rf, true); err != nil || len(s.sim.Refunds()) != before {
			t.Fatalf("running the task again: %v; Paystack has %d refunds, had %d", err, len(s.sim.Refunds()), before)
		}
		if res := s.call("POST", "/v1/refunds/"+rf+"/retry", nil); res.status != 200 {
			t.Fatalf("retry: %d %s", res.status, res.raw)
		}
		if err := s.runRefund(rf, false); err != nil {
			t.Fatal(err)
		}
		if r := s.getRefund(booking, rf); r["status"] != "processed" {
			t.Fatalf("after the retry: %v", r)
		}
	})
	t.Run("paystackDownStaysQueued", func(t *testing.T) {
		s.sim.SetFaults(paystacksim.Faults{ServerErrors: 1})
		res := s.refund(booking, map[string]any{"amount": 1000, "reason": "w"})
		rf := id(res.body)
		var nf *ticketing.ErrNotFinal
		if err := s.runRefund(rf, true); err == nil || errors.Is(err, payment.ErrRefused) || errors.As(err, &nf) {
			t.Fatalf("the task's answer while Paystack is down: %v", err)
		}
		if r := s.getRefund(booking, rf); r["status"] != "queued" || r["lastError"] == "" {
			t.Fatalf("while Paystack is down: %v", r)
		}
		if err := s.runRefund(rf, false); err != nil {
			t.Fatal(err)
		}
		if r := s.getRefund(booking, rf); r["status"] != "processed" || r["lastError"] != "" {
			t.Fatalf("once Paystack is back: %v", r)
		}
	})
}

// TestRefundWebhooksDriveStatus: Paystack's refund webhooks make the API
// ask Paystack about the payment's refunds, which records their status
// without the refund's own task polling again.
func TestRefundWebhooksDriveStatus(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	booking, ref := s.paidBooking(s.buyers[0], 1)
	res := s.refund(booking, map[string]any{"amount": 200000, "reason": "x"})
	rf := id(res.body)
	// The task sends the refund once and leaves it pending.
	var nf *ticketing.ErrNotFinal
	if err := s.runRefund(rf, true); !errors.As(err, &nf) {
		t.Fatalf("the task after sending: %v", err)
	}
	if r := s.getRefund(booking, rf); r["status"] != "pending" {
		t.Fatalf("after sending: %v", r)
	}
	// Paystack processes it and says so in refund.processing and
	// refund.processed (signed, through the API's webhook route).
	s.simIdle()
	var follows []task
	for _, f := range s.queue.followed() {
		if f.id != ref || f.tenantID != s.tenantID() {
			t.Fatalf("follow-up of %v, want %s", f, ref)
		}
		follows = append(follows, f)
	}
	if len(follows) < 2 {
		t.Fatalf("%d follow-ups enqueued by the refund webhooks, want one per event", len(follows))
	}
	for _, f := range follows {
		if err := s.payments.FollowRefunds(s.systemCtx(), f.id); err != nil {
			t.Fatal(err)
		}
	}
	if r := s.getRefund(booking, rf); r["status"] != "processed" {
		t.Fatalf("after the webhooks' follow-ups: %v", r)
	}
	// A refund event about a payment that is not ours is only stored.
	before := len(s.queue.followed())
	body := `{"event":"refund.processed","data":{"status":"processed","transaction_reference":"T123","amount":"5000"}}`
	if res := s.webhook(body, paystack.Sign(testPaystackKey, []byte(body))); res.status != 200 || len(s.queue.followed()) != before {
		t.Fatalf("a foreign refund event: %d; %d follow-ups", res.status, len(s.queue.followed())-before)
	}
}
