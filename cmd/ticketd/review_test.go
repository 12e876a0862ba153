package main

import (
	"context"
	"testing"

	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
)

// The review tests run the whole service against the simulator, as the
// payment tests do: an admin takes a booking out of review, the worker
// refunds what the decision owes, and every scenario ends with the
// payment invariants, the money one included.

// resolve decides about a booking under review as the admin.
func (s *stack) resolve(bookingID, decision, note string) map[string]any {
	s.t.Helper()
	code, out := s.call("POST", "/v1/bookings/"+bookingID+"/resolve", s.admin(), map[string]any{"decision": decision, "note": note})
	if code != 200 {
		s.t.Fatalf("resolve %s: %d %v", decision, code, out)
	}
	return out
}

func TestReviewOfAMismatchedChargeClosedRefundsIt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sl, _, b, ref := s.checkout(10, 2)
	if _, err := s.db.Admin.Exec(context.Background(), "UPDATE payments SET amount = amount + 100 WHERE reference = $1", ref); err != nil {
		t.Fatal(err)
	}
	if out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess)); out["bookingStatus"] != "review" {
		t.Fatalf("callback: %v", out)
	}
	out := s.resolve(b, "close", "charged the wrong amount; the buyer books again")
	refunds := out["refunds"].([]any)
	if out["booking"].(map[string]any)["status"] != "cancelled" || len(refunds) != 1 || refunds[0].(map[string]any)["amount"] != float64(2*sl.price) {
		t.Fatalf("close: %v", out)
	}
	s.waitRefund(refunds[0].(map[string]any)["id"].(string), "processed")
	// The places were released when the charge did not match; nothing
	// came back twice.
	code, st := s.call("GET", "/v1/events/"+sl.eventID+"/availability", "", nil)
	if stock := st["ticketTypes"].([]any)[0].(map[string]any); code != 200 || stock["available"] != float64(10) {
		t.Fatalf("stock after the close: %d %v", code, st)
	}
	s.checkInvariants()
}

func TestReviewOfAConfirmedBookingRestoredOrClosed(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sl, buyer, kept := s.paid(3)
	admin := s.admin()
	if code, out := s.call("POST", "/v1/bookings/"+kept+"/review", admin, map[string]any{"note": "chargeback"}); code != 200 {
		t.Fatalf("review: %d %v", code, out)
	}
	if out := s.resolve(kept, "restore", "the bank sided with us"); out["booking"].(map[string]any)["status"] != "confirmed" {
		t.Fatalf("restore: %v", out)
	}
	closed := s.book(buyer, sl, 2)
	if out := s.follow(s.pay(s.startPayment(buyer, closed), paystacksim.OutcomeSuccess)); out["bookingStatus"] != "confirmed" {
		t.Fatalf("paying: %v", out)
	}
	if code, out := s.call("POST", "/v1/bookings/"+closed+"/review", admin, map[string]any{"note": "stolen card"}); code != 200 {
		t.Fatalf("review: %d %v", code, out)
	}
	out := s.resolve(closed, "close", "stolen card confirmed")
	refunds := out["refunds"].([]any)
	if out["booking"].(map[string]any)["status"] != "refunded" || len(refunds) != 1 || refunds[0].(map[string]any)["amount"] != float64(2*sl.price) {
		t.Fatalf("close: %v", out)
	}
	s.waitRefund(refunds[0].(map[string]any)["id"].(string), "processed")
	if n := s.count("SELECT count(*) FROM tickets WHERE booking_id = $1 AND status = 'void'", closed); n != 2 {
		t.Fatalf("%d void tickets, want 2", n)
	}
	// The closed booking's places are on sale again, once.
	code, st := s.call("GET", "/v1/events/"+sl.eventID+"/availability", "", nil)
	if stock := st["ticketTypes"].([]any)[0].(map[string]any); code != 200 || stock["sold"] != float64(3) || stock["available"] != float64(7) {
		t.Fatalf("stock after the close: %d %v", code, st)
	}
	s.checkInvariants()
}
