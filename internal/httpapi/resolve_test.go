package httpapi_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// resolve decides about a booking under review as the sale's admin.
func (s *sale) resolve(bookingID, decision, note string) response {
	s.t.Helper()
	return s.call("POST", "/v1/bookings/"+bookingID+"/resolve", map[string]any{"decision": decision, "note": note})
}

// flag puts a booking under review as the sale's admin.
func (s *sale) flag(bookingID string) {
	s.t.Helper()
	s.mustCall(200, "POST", "/v1/bookings/"+bookingID+"/review", map[string]any{"note": "buyer disputes the charge"})
}

// mismatchedBooking books n tickets for buyer and pays them with a charge
// whose amount is not what the payment asked for (a tampered checkout):
// the booking is under review, holding nothing, with the charge kept.
func (s *sale) mismatchedBooking(buyer session, n int) (string, string) {
	s.t.Helper()
	b := s.bookGA(buyer, n)
	ref := s.checkout(buyer, b)
	if _, err := s.db.Admin.Exec(s.t.Context(), "UPDATE payments SET amount = amount + 100 WHERE reference = $1", ref); err != nil {
		s.t.Fatal(err)
	}
	if res := s.callback(s.simPay(ref, paystacksim.OutcomeSuccess), nil); res.body["bookingStatus"] != "review" {
		s.t.Fatalf("a mismatched charge: %d %s", res.status, res.raw)
	}
	s.simIdle()
	return b, ref
}

// ticketStatuses returns the statuses of a booking's tickets, as the admin
// lists them.
func (s *sale) ticketStatuses(bookingID string) []string {
	s.t.Helper()
	res := s.call("GET", "/v1/tickets?bookingId="+bookingID, nil)
	if res.status != 200 {
		s.t.Fatalf("tickets: %d %s", res.status, res.raw)
	}
	var out []string
	for _, t := range res.body["data"].([]any) {
		out = append(out, t.(map[string]any)["status"].(string))
	}
	return out
}

// resolveAudit returns the details of the booking's booking.resolve audit
// rows.
func (s *sale) resolveAudit(bookingID string) []map[string]any {
	s.t.Helper()
	rows, err := s.db.Admin.Query(s.t.Context(), "SELECT details FROM audit_log WHERE action = 'booking.resolve' AND entity_id = $1", bookingID)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var raw []byte
		var d map[string]any
		if err := rows.Scan(&raw); err != nil {
			s.t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// checkMoney checks the money invariant of a booking: what Paystack charged
// for it (successful charges) = what confirmed it and is kept + what its
// refunds that did not fail give back, and nothing awaits review.
func (s *sale) checkMoney(bookingID string) {
	s.t.Helper()
	var status string
	var charged, kept, refunded int64
	err := s.db.Admin.QueryRow(s.t.Context(), `SELECT b.status,
		  (SELECT COALESCE(sum(p.paid_amount), 0) FROM payments p WHERE p.booking_id = b.id AND p.status IN ('success', 'reversed')),
		  (SELECT COALESCE(sum(p.paid_amount), 0) FROM payments p WHERE p.booking_id = b.id AND p.status IN ('success', 'reversed')
		     AND p.outcome = '' AND b.status = 'confirmed'),
		  (SELECT COALESCE(sum(r.amount), 0) FROM refunds r WHERE r.booking_id = b.id AND r.status <> 'failed')
		FROM bookings b WHERE b.id = $1`, bookingID).Scan(&status, &charged, &kept, &refunded)
	if err != nil {
		s.t.Fatal(err)
	}
	var atPaystack int64
	for _, tx := range s.sim.Transactions() {
		if b, _, _ := ticketing.ParseReference(tx.Reference); b == bookingID && (tx.Status == paystack.StatusSuccess || tx.Status == paystack.StatusReversed) {
			atPaystack += tx.Amount
		}
	}
	// A partial refund of a kept charge is in both kept and refunded.
	var refundedOfKept int64
	if err := s.db.Admin.QueryRow(s.t.Context(), `SELECT COALESCE(sum(r.amount), 0) FROM refunds r JOIN payments p ON p.id = r.payment_id
		JOIN bookings b ON b.id = r.booking_id
		WHERE r.booking_id = $1 AND r.status <> 'failed' AND p.outcome = '' AND b.status = 'confirmed'`, bookingID).Scan(&refundedOfKept); err != nil {
		s.t.Fatal(err)
	}
	if atPaystack != charged || charged != kept-refundedOfKept+refunded || status == "review" {
		s.t.Fatalf("booking %s (%s): Paystack charged %d (we recorded %d) = kept %d + refunded %d?", bookingID, status, atPaystack, charged,
			kept-refundedOfKept, refunded)
	}
}

// checkStock checks that Redis agrees with Postgres about the sale's event.
func (s *sale) checkStock() {
	s.t.Helper()
	ev := inventory.Event{TenantID: s.tenantID(), EventID: s.event}
	if problems, err := s.stock.Verify(s.t.Context(), ev); err != nil || len(problems) > 0 {
		s.t.Fatalf("Redis inventory: %v %v", problems, err)
	}
}

func TestResolveReview(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	buyer := s.buyers[0]
	var adminID string
	if err := s.db.Admin.QueryRow(t.Context(), "SELECT id::text FROM users WHERE role = 'ADMIN'").Scan(&adminID); err != nil {
		t.Fatal(err)
	}

	t.Run("restoreConfirmed200", func(t *testing.T) {
		b, _ := s.paidBooking(buyer, 2)
		s.flag(b)
		if got := s.ticketStatuses(b); len(got) != 2 || got[0] != "valid" || got[1] != "valid" {
			t.Fatalf("tickets under review: %v, want valid (the door lets them in)", got)
		}
		refundsBefore := len(s.queue.refunded())
		res := s.resolve(b, "restore", "  the buyer withdrew the dispute ")
		bk, _ := res.body["booking"].(map[string]any)
		if res.status != 200 || bk["status"] != "confirmed" || bk["reviewNote"] != "buyer disputes the charge" ||
			len(res.body["refunds"].([]any)) != 0 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		if got := s.ticketStatuses(b); len(got) != 2 || got[0] != "valid" {
			t.Fatalf("tickets after a restore: %v", got)
		}
		if st := s.stockOf(s.ga); st["sold"].(float64) < 2 {
			t.Fatalf("stock after a restore: %v", st)
		}
		if n := len(s.queue.refunded()); n != refundsBefore {
			t.Fatalf("a restore enqueued %d refunds", n-refundsBefore)
		}
		audit := s.resolveAudit(b)
		if len(audit) != 1 || audit[0]["decision"] != "restore" || audit[0]["note"] != "the buyer withdrew the dispute" ||
			audit[0]["from"] != "review" || audit[0]["to"] != "confirmed" || audit[0]["reviewNote"] != "buyer disputes the charge" {
			t.Fatalf("audit: %v", audit)
		}
		// Confirmed again: the refund API takes it.
		if res := s.refund(b, map[string]any{"amount": 100, "reason": "goodwill"}); res.status != 201 {
			t.Fatalf("refund after a restore: %d %s", res.status, res.raw)
		}
		assertError(t, s.resolve(b, "close", "again"), 409, ticketing.CodeInvalidState)
		s.checkMoney(b)
		s.checkStock()
	})

	t.Run("closeConfirmedRefundsInFull200", func(t *testing.T) {
		b, _ := s.paidBooking(buyer, 2) // 1,000,000
		if res := s.refund(b, map[string]any{"amount": 100000, "reason": "late start"}); res.status != 201 {
			t.Fatalf("partial refund: %d %s", res.status, res.raw)
		}
		s.flag(b)
		sold := s.stockOf(s.ga)["sold"].(float64)
		res := s.resolve(b, "close", "chargeback confirmed by the bank")
		bk, _ := res.body["booking"].(map[string]any)
		refunds, _ := res.body["refunds"].([]any)
		if res.status != 200 || bk["status"] != "refunded" || len(refunds) != 1 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		r := refunds[0].(map[string]any)
		if r["amount"] != float64(900000) || r["currency"] != "NGN" || r["kind"] != "admin" || r["status"] != "queued" ||
			r["reason"] != "chargeback confirmed by the bank" || r["requestedBy"] != adminID {
			t.Fatalf("refund: %v", r)
		}
		if got := s.queue.refunded(); got[len(got)-1] != (task{s.tenantID(), r["id"].(string)}) {
			t.Fatalf("enqueued %v", got)
		}
		if got := s.ticketStatuses(b); len(got) != 2 || got[0] != "void" || got[1] != "void" {
			t.Fatalf("tickets after a close: %v", got)
		}
		if st := s.stockOf(s.ga); st["sold"] != sold-2 {
			t.Fatalf("stock after a close: %v, sold %v before", st, sold)
		}
		if err := s.runRefund(r["id"].(string), false); err != nil {
			t.Fatal(err)
		}
		if got := s.getRefund(b, r["id"].(string)); got["status"] != "processed" {
			t.Fatalf("after its task: %v", got)
		}
		if a := s.resolveAudit(b); len(a) != 1 || a[0]["decision"] != "close" || a[0]["to"] != "refunded" || a[0]["ticketsVoided"] != true {
			t.Fatalf("audit: %v", a)
		}
		s.checkMoney(b)
		s.checkStock()
	})

	t.Run("closeMismatchedChargeRefundsIt200", func(t *testing.T) {
		b, ref := s.mismatchedBooking(buyer, 1)
		assertError(t, s.resolve(b, "restore", "looks fine"), 409, ticketing.CodeInvalidState)
		res := s.resolve(b, "close", "charged the wrong amount")
		bk, _ := res.body["booking"].(map[string]any)
		refunds, _ := res.body["refunds"].([]any)
		if res.status != 200 || bk["status"] != "cancelled" || len(refunds) != 1 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		r := refunds[0].(map[string]any)
		if r["amount"] != float64(500000) || r["kind"] != "admin" || r["status"] != "queued" {
			t.Fatalf("refund: %v", r)
		}
		if got := s.queue.refunded(); got[len(got)-1] != (task{s.tenantID(), r["id"].(string)}) {
			t.Fatalf("enqueued %v", got)
		}
		if err := s.runRefund(r["id"].(string), false); err != nil {
			t.Fatal(err)
		}
		var atPaystack int64
		for _, pr := range s.sim.Refunds() {
			if pr.TransactionReference == ref && pr.Status == paystack.RefundProcessed {
				atPaystack += pr.Amount
			}
		}
		if atPaystack != 500000 {
			t.Fatalf("Paystack refunded %d of the charge, want 500000", atPaystack)
		}
		if n := len(s.ticketStatuses(b)); n != 0 {
			t.Fatalf("%d tickets", n)
		}
		s.checkMoney(b)
		s.checkStock()
	})

	t.Run("restoreWithoutTickets409", func(t *testing.T) {
		b, _ := s.mismatchedBooking(buyer, 1)
		res := s.resolve(b, "restore", "fine after all")
		assertError(t, res, 409, ticketing.CodeInvalidState)
		if !strings.Contains(messages(res), "no valid tickets") {
			t.Errorf("the message does not say why: %s", res.raw)
		}
		if got := s.call("GET", "/v1/bookings/"+b, nil); got.body["status"] != "review" {
			t.Fatalf("a refused restore changed the booking: %s", got.raw)
		}
	})

	t.Run("notUnderReview409", func(t *testing.T) {
		b, _ := s.paidBooking(buyer, 1)
		assertError(t, s.resolve(b, "restore", "x"), 409, ticketing.CodeInvalidState)
		assertError(t, s.resolve(s.bookGA(buyer, 1), "close", "x"), 409, ticketing.CodeInvalidState)
	})

	t.Run("badInput400", func(t *testing.T) {
		b, _ := s.paidBooking(buyer, 1)
		s.flag(b)
		for _, body := range []any{
			map[string]any{"decision": "confirm", "note": "x"},
			map[string]any{"note": "x"},
			map[string]any{"decision": "close"},
			map[string]any{"decision": "close", "note": "   "},
			map[string]any{"decision": "close", "note": strings.Repeat("é", 501)},
			map[string]any{"decision": "close", "note": "a\x1bb"},
			map[string]any{"decision": "close", "note": "x", "refund": false},
			map[string]any{"decision": 1, "note": "x"},
			"not json",
		} {
			assertError(t, s.call("POST", "/v1/bookings/"+b+"/resolve", body), 400, "VALIDATION_FAILED")
		}
		if got := s.call("GET", "/v1/bookings/"+b, nil); got.body["status"] != "review" {
			t.Fatalf("a refused decision changed the booking: %s", got.raw)
		}
		if res := s.resolve(b, "close", strings.Repeat("é", 500)); res.status != 200 {
			t.Fatalf("a note of 500 characters: %d %s", res.status, res.raw)
		}
	})

	t.Run("buyer403", func(t *testing.T) {
		b, _ := s.paidBooking(buyer, 1)
		s.flag(b)
		res := s.as(buyer.access, s.slug, "POST", "/v1/bookings/"+b+"/resolve", map[string]any{"decision": "close", "note": "mine"})
		assertError(t, res, 403, "FORBIDDEN")
	})

	t.Run("unknownOrOtherTenant404", func(t *testing.T) {
		b, _ := s.paidBooking(buyer, 1)
		s.flag(b)
		assertError(t, s.resolve(ticketing.NewID(), "close", "x"), 404, "NOT_FOUND")
		assertError(t, s.resolve("not-an-id", "close", "x"), 404, "NOT_FOUND")
		s.createTenant("globex")
		res := s.as(s.signinAdmin("globex").access, "globex", "POST", "/v1/bookings/"+b+"/resolve", map[string]any{"decision": "close", "note": "x"})
		assertError(t, res, 404, "NOT_FOUND")
		if got := s.call("GET", "/v1/bookings/"+b, nil); got.body["status"] != "review" {
			t.Fatalf("another organizer's admin changed the booking: %s", got.raw)
		}
	})
}

// TestResolveReviewConcurrently: two admins decide about one booking at the
// same moment, made to overlap (the booking's payment is locked until both
// wait for it): one decides, the other gets 409 INVALID_STATE, and what
// the winner decided is what is stored, with at most one refund.
func TestResolveReviewConcurrently(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	for _, decisions := range [][2]string{{"close", "close"}, {"restore", "close"}} {
		t.Run(decisions[0]+"-"+decisions[1], func(t *testing.T) {
			b, _ := s.paidBooking(s.buyers[0], 1)
			s.flag(b)
			tx, err := s.db.Admin.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(t.Context()) }()
			if _, err := tx.Exec(t.Context(), "SELECT 1 FROM payments WHERE booking_id = $1 FOR UPDATE", b); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			results := make([]response, 2)
			for i, d := range decisions {
				wg.Go(func() { results[i] = s.resolve(b, d, "admin "+d) })
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				var waiting int
				err := s.db.Admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND usename = 'ticketing_app' AND wait_event_type = 'Lock'`).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
				if waiting == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 20s, %d of 2 decisions wait in Postgres", waiting)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := tx.Rollback(t.Context()); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			var won string
			for i, res := range results {
				switch res.status {
				case 200:
					if won != "" {
						t.Fatalf("both decided: %s / %s", results[0].raw, results[1].raw)
					}
					won = decisions[i]
				default:
					assertError(t, res, 409, ticketing.CodeInvalidState)
				}
			}
			var status string
			var refunds, audits int
			if err := s.db.Admin.QueryRow(t.Context(), `SELECT status, (SELECT count(*) FROM refunds WHERE booking_id = $1),
				(SELECT count(*) FROM audit_log WHERE action = 'booking.resolve' AND entity_id = $1::text) FROM bookings WHERE id = $1`, b).
				Scan(&status, &refunds, &audits); err != nil {
				t.Fatal(err)
			}
			want, wantRefunds := "refunded", 1
			if won == "restore" {
				want, wantRefunds = "confirmed", 0
			}
			if won == "" || status != want || refunds != wantRefunds || audits != 1 {
				t.Fatalf("%s won: booking %s, %d refunds, %d audit rows", won, status, refunds, audits)
			}
			s.checkMoney(b)
			s.checkStock()
		})
	}
}
