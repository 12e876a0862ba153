package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ticketd-io/ticketd/internal/payment"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Races on the payment path: a double click, two tabs and a retrying app
// start one booking's payment at once; a buyer comes back late, or not at
// all; a worker stops. Each scenario pays every checkout that was handed
// out, and every transaction Paystack has for the booking, and then checks
// that each charge ended once, as the confirmation or as a refund.

// startResult is one concurrent start's answer.
type startResult struct {
	code int
	body map[string]any
	err  error
}

// startAll sends n concurrent payment starts for the booking, with the
// Idempotency-Key key(i), released together.
func (s *stack) startAll(token, bookingID string, n int, key func(i int) string) []startResult {
	s.t.Helper()
	out := make([]startResult, n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			r := &out[i]
			r.code, r.body, r.err = s.do("POST", "/v1/bookings/"+bookingID+"/payments", token, nil, "Idempotency-Key", key(i))
		}()
	}
	close(release)
	wg.Wait()
	return out
}

// startAsync sends one payment start and returns where its answer arrives.
func (s *stack) startAsync(token, bookingID string, headers ...string) <-chan startResult {
	out := make(chan startResult, 1)
	go func() {
		var r startResult
		r.code, r.body, r.err = s.do("POST", "/v1/bookings/"+bookingID+"/payments", token, nil, headers...)
		out <- r
	}()
	return out
}

// payAll pays, at the simulator, every checkout in refs and every other
// transaction Paystack holds for the booking that can still be paid (those
// only a server that lost track of them would have). It returns the
// redirects.
func (s *stack) payAll(bookingID string, refs []string) []string {
	s.t.Helper()
	seen := map[string]bool{}
	for _, tx := range s.sim.Transactions() {
		if b, _, _ := ticketing.ParseReference(tx.Reference); b == bookingID && !seen[tx.Reference] &&
			tx.Status != paystack.StatusSuccess && tx.Status != paystack.StatusFailed && tx.Status != paystack.StatusReversed {
			refs = append(refs, tx.Reference)
		}
	}
	var redirects []string
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		redirects = append(redirects, s.pay(ref, paystacksim.OutcomeSuccess))
	}
	return redirects
}

func TestPaymentConcurrentStartsShareOneCheckout(t *testing.T) {
	t.Parallel()
	for _, n := range []int{16, 64} {
		for _, keys := range []string{"distinct", "shared"} {
			for _, after := range []string{"webhook", "webhook-lost", "worker-restarted"} {
				t.Run(fmt.Sprintf("%d-%s-keys-%s", n, keys, after), func(t *testing.T) {
					t.Parallel()
					concurrentStarts(t, n, keys == "shared", after)
				})
			}
		}
	}
}

func concurrentStarts(t *testing.T, n int, sharedKey bool, after string) {
	s := newStack(t)
	_, token, b := s.pending(10, 2)
	// Paystack answers the initialize slowly, so that the starts overlap it.
	s.sim.SetFaults(paystacksim.Faults{Latency: 300 * time.Millisecond})
	results := s.startAll(token, b, n, func(i int) string {
		if sharedKey {
			return "pay-" + b
		}
		return fmt.Sprintf("pay-%s-%d", b, i)
	})
	s.sim.SetFaults(paystacksim.Faults{})

	created, checkouts := 0, map[string]string{} // reference → access code
	var refs []string
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("start %d: %v", i, r.err)
		}
		if r.code == 201 {
			created++
		}
		if r.code != 200 && r.code != 201 {
			t.Errorf("start %d: %d %v", i, r.code, r.body)
			continue
		}
		ref, _ := r.body["reference"].(string)
		code, _ := r.body["accessCode"].(string)
		if prev, ok := checkouts[ref]; !ok {
			checkouts[ref] = code
			refs = append(refs, ref)
		} else if prev != code {
			t.Errorf("reference %s handed out with access codes %s and %s", ref, prev, code)
		}
	}
	if len(checkouts) != 1 || created != 1 {
		t.Errorf("%d starts handed out %d checkouts (%v), %d of them as new; want one checkout, created once", n, len(checkouts), refs, created)
	}
	if n := s.count("SELECT count(*) FROM payments WHERE booking_id = $1 AND status <> 'initialized'", b); n != 0 {
		t.Errorf("%d attempts written off while the buyer holds their checkouts", n)
	}
	if n := len(s.sim.Transactions()); n != 1 {
		t.Errorf("Paystack initialized %d transactions for one booking, want 1", n)
	}

	switch after {
	case "webhook":
		redirects := s.payAll(b, refs)
		if out := s.follow(redirects[0]); out["bookingStatus"] != "confirmed" {
			t.Fatalf("the buyer's return: %v", out)
		}
	case "webhook-lost":
		// No webhook and no return: the reconciler finds the charges.
		s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
		s.payAll(b, refs)
	case "worker-restarted":
		s.stop()
		s.payAll(b, refs)
		s.waitFor("the webhooks are stored", func() bool {
			return s.count("SELECT count(*) FROM webhook_events WHERE reference LIKE $1", "bk-"+b+"-%") == len(refs)
		})
		if st := s.bookingStatus(b); st != "pending" {
			t.Fatalf("booking %s with no worker running", st)
		}
		s.start(s.app.workerConfig())
	}
	s.waitStatus(b, "confirmed")
	s.checkInvariants()
	if n := s.count("SELECT count(*) FROM tickets WHERE booking_id = $1", b); n != 2 {
		t.Fatalf("%d tickets, want 2", n)
	}
}

func TestPaymentStartAfterAnUnfollowedDeclineOpensANewAttempt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.stop() // no reconciler: the start itself must ask Paystack
	_, token, b, first := s.checkout(10, 1)
	s.pay(first, paystacksim.OutcomeDecline) // the tab was closed: no redirect
	s.waitFor("the checkout's answer is old enough to ask Paystack again", func() bool {
		return s.count("SELECT count(*) FROM payments WHERE reference = $1 AND updated_at < now() - interval '2 seconds'", first) == 1
	})
	code, out := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil)
	if code != 201 || out["reference"] != ticketing.PaymentReference(b, 2) {
		t.Fatalf("starting again after a decline: %d %v", code, out)
	}
	if n := s.count("SELECT count(*) FROM payments WHERE reference = $1 AND status = 'failed'", first); n != 1 {
		t.Fatal("the declined attempt is not failed")
	}
	if out := s.follow(s.pay(out["reference"].(string), paystacksim.OutcomeSuccess)); out["bookingStatus"] != "confirmed" {
		t.Fatalf("paying the new attempt: %v", out)
	}
	s.checkInvariants()
}

func TestPaymentIdempotencyKeyOfAnEndedAttempt(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(10, 1)
	code, first := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil, "Idempotency-Key", "k1")
	if code != 201 {
		t.Fatalf("start: %d %v", code, first)
	}
	if code, again := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil, "Idempotency-Key", "k1"); code != 200 || again["accessCode"] != first["accessCode"] {
		t.Fatalf("the same key again: %d %v", code, again)
	}
	s.follow(s.pay(first["reference"].(string), paystacksim.OutcomeDecline))
	if code, out := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil, "Idempotency-Key", "k1"); code != 409 || out["code"] != ticketing.CodePaymentAttemptEnded {
		t.Fatalf("the key of a declined attempt: %d %v", code, out)
	}
	if code, out := s.call("POST", "/v1/bookings/"+b+"/payments", token, nil, "Idempotency-Key", "k2"); code != 201 || out["reference"] != ticketing.PaymentReference(b, 2) {
		t.Fatalf("a new key after a decline: %d %v", code, out)
	}
	s.checkInvariants()
}

func TestPaymentCallbackAnswersWhatPaystackSaysNow(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
	_, _, b, ref := s.checkout(10, 1)
	// Asked about moments before the buyer pays (by the expiry, the
	// reconciler, or an earlier return): not paid yet.
	if p, _, err := s.app.payments.VerifyPayment(s.systemCtx(), ref); err != nil || p.Status != ticketing.PaymentInitialized {
		t.Fatalf("verify before paying: %+v %v", p, err)
	}
	out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess))
	if out["paymentStatus"] != "success" || out["bookingStatus"] != "confirmed" {
		t.Fatalf("the buyer's return right after paying: %v", out)
	}
	if got := strings.Join(keysOf(out), ","); got != "bookingId,bookingStatus,paymentStatus,reference" {
		t.Fatalf("the anonymous callback answers %s", got)
	}
	if st := s.bookingStatus(b); st != "confirmed" {
		t.Fatalf("booking %s", st)
	}
	s.checkInvariants()
}

// codeOf is the code of an application error, or "".
func codeOf(err error) string {
	if e := ticketing.AsError(err); e != nil {
		return e.Code
	}
	return ""
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestPaymentLostCheckoutIsTakenOver: a caller claimed the attempt, reached
// Paystack and died before recording the checkout. Another start waits for
// the checkout (and gives up with PAYMENT_IN_PROGRESS past its wait); once
// the claim lapses, the next start finds the reference taken at Paystack,
// leaves the attempt behind and opens the next one; the dead caller can no
// longer record its checkout.
func TestPaymentLostCheckoutIsTakenOver(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.stop() // no reconciler asking about the attempt meanwhile
	_, token, b := s.pending(10, 1)
	ctx := s.systemCtx()
	opened, err := s.app.paystore.OpenPayment(ctx, b, "", "", time.Hour)
	if err != nil || opened.Claim == "" {
		t.Fatalf("claim: %+v %v", opened, err)
	}
	ref := opened.Payment.Reference
	auth, err := paystack.New(s.app.cfg.PaystackBaseURL, testPaystackKey).Initialize(ctx, paystack.InitializeRequest{
		Email: "ada@example.com", Amount: opened.Payment.Amount, Currency: "NGN", Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	// A start waits for the checkout, which never comes, and gives up…
	svc := s.paymentService(payment.Config{StartWait: 100 * time.Millisecond}, s.app.stock)
	if _, err := svc.StartPayment(ctx, b, ""); codeOf(err) != ticketing.CodePaymentInProgress {
		t.Fatalf("a start while another holds the claim: %v, want %s", err, ticketing.CodePaymentInProgress)
	}
	// …and the buyer's start waits…
	done := s.startAsync(token, b)
	// …until the dead caller's claim lapses.
	if _, err := s.db.Admin.Exec(context.Background(), "UPDATE payments SET init_until = now() WHERE reference = $1", ref); err != nil {
		t.Fatal(err)
	}
	var got startResult
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the start did not take the lapsed claim over")
	}
	if got.err != nil || got.code != 201 || got.body["reference"] != ticketing.PaymentReference(b, 2) {
		t.Fatalf("start after a lost checkout: %d %v %v", got.code, got.body, got.err)
	}
	if ok, err := s.app.paystore.SetCheckout(ctx, opened.Payment.ID, opened.Claim, auth.AuthorizationURL, auth.AccessCode); err != nil || ok {
		t.Fatalf("the dead caller recorded its checkout after losing its claim: %v %v", ok, err)
	}
	if n := s.count("SELECT count(*) FROM payments WHERE reference = $1 AND status = 'abandoned' AND authorization_url = ''", ref); n != 1 {
		t.Fatal("the attempt whose checkout was lost is not abandoned")
	}
	// Even that checkout, if it somehow were paid, ends as a refund.
	s.start(s.app.workerConfig())
	s.payAll(b, []string{got.body["reference"].(string)})
	s.waitStatus(b, "confirmed")
	s.checkInvariants()
	if n := s.count("SELECT count(*) FROM refunds WHERE booking_id = $1 AND reason = $2", b, ticketing.CodeAlreadyPaid); n != 1 {
		t.Fatalf("%d refunds of the second charge, want 1", n)
	}
}

// TestPaymentChargeOfAWrittenOffAttemptIsSettled: an attempt written off
// here (as a racing server once did) is paid at Paystack all the same. The
// webhook's task, an admin's verify and the reconciler each ask Paystack,
// and the charge confirms the booking.
func TestPaymentChargeOfAWrittenOffAttemptIsSettled(t *testing.T) {
	t.Parallel()
	for _, by := range []string{"webhook", "admin", "reconciler"} {
		t.Run(by, func(t *testing.T) {
			t.Parallel()
			s := newStack(t)
			if by != "webhook" {
				s.sim.SetFaults(paystacksim.Faults{DropWebhooks: true})
			}
			if by == "admin" {
				s.stop()
			}
			_, _, b, ref := s.checkout(10, 1)
			if _, err := s.db.Admin.Exec(context.Background(),
				"UPDATE payments SET status = 'failed', gateway_response = 'Duplicate Transaction Reference', checked_at = now() - interval '1 minute' WHERE reference = $1", ref); err != nil {
				t.Fatal(err)
			}
			s.pay(ref, paystacksim.OutcomeSuccess)
			if by == "admin" {
				_, admin := s.call("POST", "/v1/auth/signin", "", map[string]any{"email": "admin@acme.test", "password": "password-1"})
				code, out := s.call("POST", "/v1/payments/"+ref+"/verify", admin["accessToken"].(string), nil)
				if code != 200 || out["final"] != true || out["booking"].(map[string]any)["status"] != "confirmed" {
					t.Fatalf("admin verify: %d %v", code, out)
				}
			}
			s.waitStatus(b, "confirmed")
			s.checkInvariants()
		})
	}
}

// TestPaymentStartWaitsForTheCheckoutInFlight: while one start is at
// Paystack, another waits and hands out the same checkout.
func TestPaymentStartWaitsForTheCheckoutInFlight(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(10, 1)
	held := s.holdPaystack(func(r *http.Request) bool { return r.URL.Path == "/transaction/initialize" })
	first := s.startAsync(token, b)
	s.wait("the first start reaches Paystack", held.arrived)
	second := s.startAsync(token, b, "Idempotency-Key", "another-tab")
	s.waitFor("both starts are being served", func() bool {
		var inFlight dto.Metric
		return s.app.metrics.HTTPInFlight.Write(&inFlight) == nil && inFlight.GetGauge().GetValue() == 2
	})
	close(held.release)
	a, c := <-first, <-second
	if a.err != nil || c.err != nil || a.code != 201 || c.code != 200 || a.body["accessCode"] != c.body["accessCode"] || a.body["reference"] != c.body["reference"] {
		t.Fatalf("first %d %v %v, second %d %v %v", a.code, a.body, a.err, c.code, c.body, c.err)
	}
	s.checkInvariants()
}

// TestPaymentRefusedStartIsRefusedForEveryone: Paystack refuses the
// payment (a currency the merchant does not take). Every concurrent start
// gets 422 PAYMENT_REJECTED, none a checkout, and no attempt stays open.
func TestPaymentRefusedStartIsRefusedForEveryone(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(10, 1)
	if _, err := s.db.Admin.Exec(context.Background(), "UPDATE bookings SET currency = 'JPY' WHERE id = $1", b); err != nil {
		t.Fatal(err)
	}
	s.sim.SetFaults(paystacksim.Faults{Latency: 300 * time.Millisecond})
	for i, r := range s.startAll(token, b, 16, func(int) string { return "pay-" + b }) {
		if r.err != nil || r.code != 422 || r.body["code"] != ticketing.CodePaymentRejected {
			t.Errorf("start %d: %d %v %v", i, r.code, r.body, r.err)
		}
	}
	s.sim.SetFaults(paystacksim.Faults{})
	if n := s.count("SELECT count(*) FROM payments WHERE booking_id = $1 AND (status <> 'failed' OR authorization_url <> '')", b); n != 0 {
		t.Fatalf("%d attempts open or with a checkout after Paystack refused the payment", n)
	}
	s.checkInvariants()
}

// TestPaymentBookingCancelledDuringInitialize: the buyer cancels while the
// checkout is being made; the start answers 409 and hands out nothing.
func TestPaymentBookingCancelledDuringInitialize(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	_, token, b := s.pending(10, 1)
	held := s.holdPaystack(func(r *http.Request) bool { return r.URL.Path == "/transaction/initialize" })
	start := s.startAsync(token, b)
	s.wait("the start reaches Paystack", held.arrived)
	if code, out := s.call("POST", "/v1/bookings/"+b+"/cancel", token, nil); code != 200 {
		t.Fatalf("cancel: %d %v", code, out)
	}
	close(held.release)
	if r := <-start; r.err != nil || r.code != 409 || r.body["code"] != ticketing.CodeInvalidState {
		t.Fatalf("start of a booking cancelled meanwhile: %d %v %v", r.code, r.body, r.err)
	}
	if n := s.count("SELECT count(*) FROM payments WHERE booking_id = $1 AND authorization_url <> ''", b); n != 0 {
		t.Fatal("a checkout of a cancelled booking was recorded")
	}
	s.checkInvariants()
}
