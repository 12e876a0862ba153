package ticketing

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PaymentStatus is the state of one payment attempt.
type PaymentStatus string

// Payment statuses, and the transitions between them. Each transition is
// written by one store call under the payment's row lock; the race it
// guards against is named with it.
//
//   - initialized: open. The attempt is recorded before Paystack is called,
//     and its checkout (authorization URL and access code) after. One caller
//     at a time holds the claim to initialize it; the others wait for its
//     checkout (two tabs, a double click, a retrying app), and the holder
//     records the checkout only while it still holds the claim, so a
//     checkout that leaves the server is always the attempt's recorded one.
//   - initialized → failed, abandoned before a checkout exists: Paystack
//     refused the initialize (failed), or an earlier initialize reached
//     Paystack and its checkout was never recorded (abandoned), or Paystack
//     does not know the reference and the booking's hold is over
//     (abandoned). Nobody has the checkout, so nobody can pay it; each is
//     written only if, under the row lock, there is still no checkout and
//     no other caller holds the claim.
//   - initialized → failed after a checkout was handed out: only on
//     Paystack's verified word that the charge failed. The checkout is
//     spent; the next start opens a new attempt.
//   - initialized → abandoned after a checkout was handed out: only when
//     Paystack says it is not paid (abandoned is not final at Paystack) and
//     the booking's hold is over. While the booking is live the attempt
//     stays open, so the buyer who left the checkout gets the same checkout
//     again, and an anonymous callback cannot close it.
//   - initialized, failed, abandoned → success: a verification that finds
//     Paystack's success settles it (confirms the booking, or refunds the
//     charge), once: success is final, and every verification of an unpaid
//     attempt asks Paystack again, since a charge may still arrive.
//   - success → reversed when Paystack reverses the charge.
const (
	PaymentInitialized PaymentStatus = "initialized"
	PaymentSuccess     PaymentStatus = "success"
	PaymentFailed      PaymentStatus = "failed"
	PaymentAbandoned   PaymentStatus = "abandoned"
	PaymentReversed    PaymentStatus = "reversed"
)

// Settled reports whether the attempt's charge was applied: nothing changes
// it any more.
func (s PaymentStatus) Settled() bool { return s == PaymentSuccess || s == PaymentReversed }

// Valid reports whether s is a payment status.
func (s PaymentStatus) Valid() bool {
	switch s {
	case PaymentInitialized, PaymentSuccess, PaymentFailed, PaymentAbandoned, PaymentReversed:
		return true
	}
	return false
}

// Outcomes of a successful charge that did not become tickets, also the
// failure reasons of the booking and the codes of the API.
const (
	CodeLatePaymentSoldOut = "LATE_PAYMENT_SOLD_OUT"
	CodeAmountMismatch     = "AMOUNT_MISMATCH"
	CodeAlreadyPaid        = "ALREADY_PAID"
	CodeBookingClosed      = "BOOKING_CLOSED"
	CodePaymentProvider    = "PAYMENT_PROVIDER_UNAVAILABLE"
	CodePaymentRejected    = "PAYMENT_REJECTED"
	// CodePaymentInProgress: another request is starting the booking's
	// payment and its checkout is not there yet.
	CodePaymentInProgress = "PAYMENT_IN_PROGRESS"
	// CodePaymentAttemptEnded: the attempt an Idempotency-Key started has
	// ended unpaid; a new start needs a new key.
	CodePaymentAttemptEnded = "PAYMENT_ATTEMPT_ENDED"
)

// Payment is one attempt to pay a booking.
type Payment struct {
	ID               string
	BookingID        string
	Attempt          int
	Reference        string
	Amount           int64
	Currency         string
	Status           PaymentStatus
	AuthorizationURL string
	AccessCode       string
	PaystackID       uint64
	PaidAmount       int64
	PaidCurrency     string
	GatewayResponse  string
	Channel          string
	PaidAt           *time.Time
	VerifiedAt       *time.Time
	Outcome          string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// EventID is the booking's event.
	EventID string
	// InventoryHold is the Redis hold a settlement confirmed or released;
	// InventorySynced is false until Redis has followed the settlement.
	InventoryHold   string
	InventorySynced bool
	// CheckedAt is when Paystack was last asked about the attempt (it
	// paces the next question); Initializing is true while a caller holds
	// the claim to initialize it.
	CheckedAt    *time.Time
	Initializing bool
}

// PaymentReference is the reference of a booking's n-th payment attempt.
// Paystack allows letters, digits, '-', '.' and '=' in references.
func PaymentReference(bookingID string, attempt int) string {
	return "bk-" + bookingID + "-" + strconv.Itoa(attempt)
}

var referencePattern = regexp.MustCompile(`^bk-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-([1-9][0-9]{0,5})$`)

// ParseReference returns the booking and attempt a reference names; ok is
// false for a reference this platform did not make.
func ParseReference(ref string) (bookingID string, attempt int, ok bool) {
	m := referencePattern.FindStringSubmatch(strings.ToLower(ref))
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(m[2])
	return m[1], n, err == nil
}

// Checkout is where to send a buyer to pay.
type Checkout struct {
	AuthorizationURL string
	AccessCode       string
	Reference        string
	// Created is false when an open attempt was returned again.
	Created bool
	// Free: the booking cost nothing and is confirmed; there is no checkout.
	Free bool
}

// Charge is what Paystack says of a transaction: the facts a verification
// decides on.
type Charge struct {
	Reference       string
	Status          string // Paystack's transaction status
	PaystackID      uint64
	Amount          int64
	Currency        string
	GatewayResponse string
	Channel         string
	PaidAt          *time.Time
}

// PaymentFilter selects payments for admins.
type PaymentFilter struct {
	Page
	Status    PaymentStatus
	BookingID string
	Reference string
}

// Validate checks the filter's fields.
func (f PaymentFilter) Validate() error {
	var p Problems
	p.Addf(f.Status != "" && !f.Status.Valid(), "status must be one of initialized, success, failed, abandoned, reversed")
	p.Addf(f.BookingID != "" && !ValidID(f.BookingID), "bookingId must be a UUID")
	return p.Err()
}

// PaymentService runs payments of bookings.
type PaymentService interface {
	// StartPayment opens a payment attempt of the actor's pending booking,
	// or returns its open attempt.
	StartPayment(ctx context.Context, bookingID, idempotencyKey string) (*Checkout, error)
	// VerifyPayment asks Paystack about a reference and applies the answer;
	// it returns the payment and its booking afterwards.
	VerifyPayment(ctx context.Context, reference string) (*Payment, *Booking, error)
	// FindPayments lists payments (ADMIN).
	FindPayments(ctx context.Context, f PaymentFilter) ([]*Payment, string, error)
	// ReviewBooking puts a confirmed booking under review with a note, or
	// changes the note of a booking under review (ADMIN). Returns
	// KindConflict (INVALID_STATE) for a booking in any other status,
	// KindNotFound for an unknown booking and KindInvalid for bad input.
	ReviewBooking(ctx context.Context, bookingID, note string) (*Booking, error)
	// ResolveReview takes a booking out of review as the admin decides
	// (see ReviewDecision) and queues the refunds that decision owes.
	// Returns KindConflict (INVALID_STATE) for a booking not under review,
	// or one that cannot be restored, KindNotFound for an unknown booking
	// and KindInvalid for bad input.
	ResolveReview(ctx context.Context, r ResolveReview) (*Resolution, error)
}

// ErrNotFinal is returned by VerifyPayment when Paystack has no final answer
// yet (the buyer is still paying, or Paystack could not be asked), and by
// the refund task while Paystack is processing a refund: asking again is
// worth it, not before RetryAt when that is set.
type ErrNotFinal struct {
	Status  string
	RetryAt time.Time
}

func (e *ErrNotFinal) Error() string {
	return fmt.Sprintf("payment not final yet (paystack status %q)", e.Status)
}

// OpenedPayment is what opening a payment attempt found or created.
type OpenedPayment struct {
	Payment *Payment
	Booking *Booking
	Email   string // the buyer's
	Created bool
	// Claim is set when this call holds the attempt's initialization: it
	// alone calls Paystack's initialize, and records the checkout under the
	// claim. Without a claim and without a checkout, another caller is
	// initializing the attempt (Payment.Initializing).
	Claim string
}

// SettleMode says how a settlement treats a booking whose hold ran out.
type SettleMode int

// Settle modes.
const (
	// SettleNormal confirms a live booking and asks for a hold
	// (Settlement.NeedHold) when the booking's hold ran out.
	SettleNormal SettleMode = iota
	// SettleLateHeld confirms a booking whose hold ran out: the caller holds
	// its tickets again.
	SettleLateHeld
	// SettleLateSoldOut fails a booking whose hold ran out and whose tickets
	// could not be held again, and owes the buyer a refund.
	SettleLateSoldOut
)

// Settlement is what a successful charge did.
type Settlement struct {
	Payment *Payment
	Booking *Booking
	// Confirmed: the booking is confirmed with its tickets, by this charge.
	Confirmed bool
	// Outcome is why the charge did not confirm the booking (a code), or "".
	Outcome string
	// RefundID names the refund the charge is owed, or "".
	RefundID string
	// AlreadySettled: the charge was settled before; nothing changed.
	AlreadySettled bool
	// NeedHold: the booking's hold ran out; nothing changed. Hold its
	// tickets again and settle with SettleLateHeld, or SettleLateSoldOut.
	NeedHold bool
}

// RefundInProgress is a refund Paystack accepted and has not finished: the
// attempt Paystack is working on.
type RefundInProgress struct {
	ID         string
	Attempt    int
	PaystackID uint64
}
