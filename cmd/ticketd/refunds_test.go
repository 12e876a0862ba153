package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// The refund tests run the whole service against the simulator, as the
// payment tests do: an admin refunds all or part of a confirmed booking,
// the worker asks Paystack and follows the refund (polling it, and on its
// webhooks), and every scenario ends with the payment invariants, the
// money one comparing our refunds with Paystack's.

// admin signs in the tenant's admin and returns the access token.
func (s *stack) admin() string {
	s.t.Helper()
	code, out := s.call("POST", "/v1/auth/signin", "", map[string]any{"email": "admin@acme.test", "password": "password-1"})
	if code != 200 {
		s.t.Fatalf("signin: %d %v", code, out)
	}
	return out["accessToken"].(string)
}

// paid puts a sale on and has a buyer book qty tickets and pay them: the
// sale, the buyer's token and the confirmed booking.
func (s *stack) paid(qty int) (sale, string, string) {
	s.t.Helper()
	sl, token, b, ref := s.checkout(10, qty)
	if out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess)); out["bookingStatus"] != "confirmed" {
		s.t.Fatalf("paying: %v", out)
	}
	return sl, token, b
}

// refund asks for a refund of the booking as token; amount < 0 leaves it
// out.
func (s *stack) refund(token, bookingID string, amount int64, reason string, headers ...string) (int, map[string]any) {
	s.t.Helper()
	body := map[string]any{"reason": reason}
	if amount >= 0 {
		body["amount"] = amount
	}
	return s.call("POST", "/v1/bookings/"+bookingID+"/refunds", token, body, headers...)
}

func (s *stack) refundStatus(id string) (status, lastError string) {
	s.t.Helper()
	if err := s.db.Admin.QueryRow(s.t.Context(), "SELECT status, last_error FROM refunds WHERE id = $1", id).Scan(&status, &lastError); err != nil {
		s.t.Fatal(err)
	}
	return status, lastError
}

// waitRefund waits until the refund is status.
func (s *stack) waitRefund(id, status string) {
	s.t.Helper()
	s.waitFor("refund "+id+" is "+status, func() bool { st, _ := s.refundStatus(id); return st == status })
}

// paystackRefunds counts the refunds Paystack was asked for.
func (s *stack) paystackRefunds() int { return len(s.sim.Refunds()) }

func TestRefundPartialThenOverTheRemainderReachesNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, _, b := s.paid(2) // 2 × 150000
	admin := s.admin()
	code, first := s.refund(admin, b, 100000, "one seat was broken")
	if code != 201 || first["amount"] != float64(100000) || first["status"] != "queued" || first["kind"] != "admin" {
		t.Fatalf("partial refund: %d %v", code, first)
	}
	id := first["id"].(string)
	s.waitRefund(id, "processed")
	if n := s.paystackRefunds(); n != 1 {
		t.Fatalf("Paystack has %d refunds, want 1", n)
	}

	code, out := s.refund(admin, b, 200001, "more")
	if code != 422 || out["code"] != ticketing.CodeRefundExceedsPaid {
		t.Fatalf("refund over the remainder: %d %v", code, out)
	}
	if n := s.paystackRefunds(); n != 1 {
		t.Fatalf("a refused refund reached Paystack: %d refunds", n)
	}
	// The booking stays confirmed with its tickets.
	if st := s.bookingStatus(b); st != "confirmed" {
		t.Fatalf("booking %s after a partial refund", st)
	}
	if n := s.count("SELECT count(*) FROM tickets WHERE booking_id = $1", b); n != 2 {
		t.Fatalf("%d tickets after a partial refund", n)
	}
	code, list := s.call("GET", "/v1/bookings/"+b+"/refunds", admin, nil)
	if data, _ := list["data"].([]any); code != 200 || len(data) != 1 || data[0].(map[string]any)["status"] != "processed" {
		t.Fatalf("the booking's refunds: %d %v", code, list)
	}
	s.checkInvariants()
}

func TestRefundOfTheWholeRemainder(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, buyer, b := s.paid(2)
	admin := s.admin()
	if code, out := s.refund(admin, b, 50000, "part"); code != 201 {
		t.Fatalf("partial refund: %d %v", code, out)
	}
	code, rest := s.refund(admin, b, -1, "the rest")
	if code != 201 || rest["amount"] != float64(250000) {
		t.Fatalf("refund of the remainder: %d %v", code, rest)
	}
	s.waitRefund(rest["id"].(string), "processed")
	if code, out := s.refund(admin, b, -1, "again"); code != 422 || out["code"] != ticketing.CodeRefundExceedsPaid {
		t.Fatalf("refund with nothing left: %d %v", code, out)
	}
	s.waitRefunds()
	// Refunded in full at Paystack: the charge is reversed.
	for _, tx := range s.sim.Transactions() {
		if tx.Status != paystack.StatusReversed {
			t.Fatalf("charge %s is %s after refunding all of it", tx.Reference, tx.Status)
		}
	}
	// The buyer sees the refunds of their booking.
	code, list := s.call("GET", "/v1/bookings/"+b+"/refunds", buyer, nil)
	if data, _ := list["data"].([]any); code != 200 || len(data) != 2 {
		t.Fatalf("the buyer's view of the refunds: %d %v", code, list)
	}
	s.checkInvariants()
}

// TestRefundInFullVoidsTheTicketsAndResells: the refund that completes a
// booking's refunds makes it refunded, voids its tickets (the door refuses
// them) and puts its places back on sale once, in Postgres and Redis alike.
func TestRefundInFullVoidsTheTicketsAndResells(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sl, buyer, b := s.paid(10) // the whole capacity
	admin := s.admin()
	if code, out := s.call("GET", "/v1/events/"+sl.eventID+"/availability", "", nil); code != 200 || fmt.Sprint(out["ticketTypes"]) == "" {
		t.Fatalf("availability: %d %v", code, out)
	}
	if code, out := s.call("POST", "/v1/bookings", s.buyer("late@example.com"), map[string]any{"eventId": sl.eventID,
		"items": []any{map[string]any{"ticketTypeId": sl.typeID, "quantity": 1}}}); code != 409 {
		t.Fatalf("booking a sold-out event: %d %v", code, out)
	}
	if code, out := s.refund(admin, b, 100, "part"); code != 201 {
		t.Fatalf("partial refund: %d %v", code, out)
	}
	if code, out := s.call("GET", "/v1/bookings/"+b, buyer, nil); code != 200 || out["status"] != "confirmed" {
		t.Fatalf("after a partial refund: %d %v", code, out)
	}
	// Two racing requests for the rest: one refunds, one finds nothing left.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = s.refund(admin, b, -1, "the rest")
		}()
	}
	wg.Wait()
	if min(codes[0], codes[1]) != 201 || max(codes[0], codes[1]) != 422 {
		t.Fatalf("racing refunds of the rest: %v", codes)
	}
	if code, out := s.call("GET", "/v1/bookings/"+b, buyer, nil); code != 200 || out["status"] != "refunded" {
		t.Fatalf("after the refund in full: %d %v", code, out)
	}
	if n := s.count("SELECT count(*) FROM tickets WHERE booking_id = $1 AND status = 'void'", b); n != 10 {
		t.Fatalf("%d void tickets, want 10", n)
	}
	// The places are on sale again, once.
	code, out := s.call("GET", "/v1/events/"+sl.eventID+"/availability", "", nil)
	st := out["ticketTypes"].([]any)[0].(map[string]any)
	if code != 200 || st["available"] != float64(10) || st["sold"] != float64(0) {
		t.Fatalf("availability after the refund: %d %v", code, out)
	}
	again := s.book(s.buyer("again@example.com"), sl, 10)
	if again == "" {
		t.Fatal("the places did not come back")
	}
	s.checkInvariants()
}

func TestRefundConcurrentRequestsOverThePaidAmount(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, _, b := s.paid(2) // 300000
	admin := s.admin()
	const n = 8
	codes := make([]int, n)
	bodies := make([]map[string]any, n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-release
			var err error
			codes[i], bodies[i], err = s.do("POST", "/v1/bookings/"+b+"/refunds", admin, map[string]any{"amount": 180000, "reason": fmt.Sprintf("request %d", i)})
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(release)
	wg.Wait()
	accepted := 0
	for i := range n {
		switch {
		case codes[i] == 201:
			accepted++
		case codes[i] != 422 || bodies[i]["code"] != ticketing.CodeRefundExceedsPaid:
			t.Fatalf("request %d: %d %v", i, codes[i], bodies[i])
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of %d refunds of 60%% accepted, want 1", accepted, n)
	}
	s.waitRefunds()
	if refunds := s.sim.Refunds(); len(refunds) != 1 || refunds[0].Amount != 180000 {
		t.Fatalf("Paystack was asked for %v, want one refund of 180000", refunds)
	}
	s.checkInvariants()
}

func TestRefundIdempotencyKeyReplaysTheRefund(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, _, b := s.paid(1)
	admin := s.admin()
	code, first := s.refund(admin, b, 100000, "duplicate click", "Idempotency-Key", "refund-"+b)
	if code != 201 {
		t.Fatalf("refund: %d %v", code, first)
	}
	code, again := s.refund(admin, b, 100000, "duplicate click", "Idempotency-Key", "refund-"+b)
	if code != 200 || again["id"] != first["id"] {
		t.Fatalf("the same request again: %d %v, first %v", code, again, first)
	}
	if code, out := s.refund(admin, b, 100001, "duplicate click", "Idempotency-Key", "refund-"+b); code != 409 || out["code"] != ticketing.CodeIdempotencyKeyReused {
		t.Fatalf("the key with another amount: %d %v", code, out)
	}
	s.waitRefunds()
	if n := s.paystackRefunds(); n != 1 {
		t.Fatalf("Paystack has %d refunds, want 1", n)
	}
	s.checkInvariants()
}

func TestRefundFailedByPaystackStaysVisibleAndIsRetried(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, _, b := s.paid(2)
	admin := s.admin()
	s.sim.SetFaults(paystacksim.Faults{FailRefunds: 1})
	code, out := s.refund(admin, b, 120000, "cancelled by the organizer")
	if code != 201 {
		t.Fatalf("refund: %d %v", code, out)
	}
	id := out["id"].(string)
	s.waitRefund(id, "failed")
	code, failed := s.call("GET", "/v1/refunds?status=failed", admin, nil)
	data, _ := failed["data"].([]any)
	if code != 200 || len(data) != 1 {
		t.Fatalf("failed refunds: %d %v", code, failed)
	}
	if r := data[0].(map[string]any); r["id"] != id || r["lastError"] == "" || r["attempts"] != float64(1) {
		t.Fatalf("the failed refund: %v", r)
	}
	s.waitFor(`ticketd_refunds_finished_total{kind="admin",status="failed"} counts it`, func() bool {
		var finished dto.Metric
		return s.app.metrics.RefundsFinished.WithLabelValues("admin", "failed").Write(&finished) == nil && finished.GetCounter().GetValue() == 1
	})

	code, retried := s.call("POST", "/v1/refunds/"+id+"/retry", admin, nil)
	if code != 200 || retried["status"] != "queued" || retried["attempts"] != float64(2) {
		t.Fatalf("retry: %d %v", code, retried)
	}
	s.waitRefund(id, "processed")
	if code, out := s.call("POST", "/v1/refunds/"+id+"/retry", admin, nil); code != 409 || out["code"] != ticketing.CodeInvalidState {
		t.Fatalf("retrying a processed refund: %d %v", code, out)
	}
	refunds := s.sim.Refunds()
	if len(refunds) != 2 || refunds[0].Status != paystack.RefundFailed || refunds[1].Status != paystack.RefundProcessed {
		t.Fatalf("Paystack's refunds: %+v", refunds)
	}
	if n := s.count("SELECT count(*) FROM audit_log WHERE entity = 'refund' AND entity_id = $1 AND action IN ('refund.request', 'refund.retry')", id); n != 2 {
		t.Fatalf("%d audit rows of the refund, want its request and its retry", n)
	}
	s.checkInvariants()
}

func TestRefundRefusedByPaystackIsFailedNotRetriedAlone(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, _, b := s.paid(1)
	admin := s.admin()
	s.sim.SetFaults(paystacksim.Faults{RejectRefunds: 1})
	code, out := s.refund(admin, b, -1, "refund it all")
	if code != 201 {
		t.Fatalf("refund: %d %v", code, out)
	}
	id := out["id"].(string)
	s.waitRefund(id, "failed")
	if _, why := s.refundStatus(id); why == "" {
		t.Fatal("a refund Paystack refused has no lastError")
	}
	if n := s.paystackRefunds(); n != 0 {
		t.Fatalf("Paystack has %d refunds", n)
	}
	// Nothing asks Paystack again on its own (it would now accept): the
	// task gave up, and the reconciler, which runs every second here,
	// leaves a failed refund to a person. Watched for three seconds.
	s.waitFor("the refund stays failed over reconciliations", func() bool {
		if st, _ := s.refundStatus(id); st != "failed" {
			t.Fatalf("the refused refund became %s by itself", st)
		}
		return s.count("SELECT count(*) FROM refunds WHERE id = $1 AND updated_at < now() - interval '3 seconds'", id) == 1
	})
	if code, out := s.call("POST", "/v1/refunds/"+id+"/retry", admin, nil); code != 200 {
		t.Fatalf("retry: %d %v", code, out)
	}
	s.waitRefund(id, "processed")
	s.checkInvariants()
}

// TestCancellingAnEventRefundsEveryBookingOnce: cancelling an event with
// many confirmed bookings refunds each exactly once, also when the worker
// doing it stopped halfway (bookings ended, their refund tasks and mails
// never enqueued): the sweep and the reconciler finish the work.
func TestCancellingAnEventRefundsEveryBookingOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const n = 200
	sl := s.newSale(n)
	token := s.buyer("ada@example.com")
	bookings := make([]string, n)
	for i := range bookings {
		bookings[i] = s.book(token, sl, 1)
		if out := s.follow(s.pay(s.startPayment(token, bookings[i]), paystacksim.OutcomeSuccess)); out["bookingStatus"] != "confirmed" {
			t.Fatalf("paying booking %d: %v", i, out)
		}
	}
	if code, out := s.refund(s.admin(), bookings[0], 1000, "a goodwill part"); code != 201 {
		t.Fatalf("partial refund: %d %v", code, out)
	}

	// A worker cancelled the event and ended up to 60 bookings (the running
	// worker's sweep may take some of them at the same moment), then died
	// before enqueueing anything.
	ctx := s.systemCtx()
	if _, err := postgres.NewEventService(s.app.db).CancelEvent(ctx, sl.eventID, nil); err != nil {
		t.Fatal(err)
	}
	refunds, ended, err := s.app.paystore.RefundCancelledEvent(ctx, sl.eventID, 60)
	if err != nil || len(ended) > 60 || len(refunds) != len(ended) {
		t.Fatalf("the first worker ended %d bookings with %d refunds: %v", len(ended), len(refunds), err)
	}
	// The sweep finds the rest, the reconciler the refunds nobody enqueued.
	// Each booking is ended in a transaction of its own: on a busy machine
	// 200 of them take a while.
	s.waitLonger(3*time.Minute, "every booking of the cancelled event is refunded", func() bool {
		return s.count("SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'refunded'", sl.eventID) == n
	})
	s.waitRefunds()
	if got := s.count(`SELECT count(*) FROM bookings b WHERE b.event_id = $1 AND
		(SELECT count(*) FROM refunds r WHERE r.booking_id = b.id AND r.kind = 'event_cancelled') <> 1`, sl.eventID); got != 0 {
		t.Fatalf("%d bookings without exactly one refund for the cancellation", got)
	}
	if got := s.count(`SELECT count(*) FROM tickets WHERE event_id = $1 AND status <> 'void'`, sl.eventID); got != 0 {
		t.Fatalf("%d tickets of the cancelled event are not void", got)
	}
	code, progress := s.call("GET", "/v1/events/"+sl.eventID+"/refunds", s.admin(), nil)
	if code != 200 || progress["bookingsLeft"] != float64(0) || progress["bookingsRefunded"] != float64(n) ||
		progress["refundsProcessed"] != float64(n+1) || progress["refundsFailed"] != float64(0) {
		t.Fatalf("progress: %d %v", code, progress)
	}
	// The mails the dead worker wrote down are sent by the mail sweep,
	// which leaves a mail 30 s to its own task first.
	s.waitLonger(3*time.Minute, "every buyer is mailed", func() bool {
		return s.count("SELECT count(*) FROM mail_outbox WHERE kind = 'event_cancelled' AND sent_at IS NOT NULL") == n
	})

	// Through the API: cancelling enqueues the refunds at once.
	other := s.newSale(5)
	b := s.book(token, other, 2)
	s.follow(s.pay(s.startPayment(token, b), paystacksim.OutcomeSuccess))
	if code, out := s.call("POST", "/v1/events/"+other.eventID+"/cancel", s.admin(), map[string]any{}); code != 200 {
		t.Fatalf("cancel: %d %v", code, out)
	}
	s.waitFor("the API's cancellation refunds its booking", func() bool {
		return s.count("SELECT count(*) FROM bookings WHERE id = $1 AND status = 'refunded'", b) == 1
	})
	s.checkInvariants()
}
