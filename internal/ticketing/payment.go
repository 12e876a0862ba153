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

// Payment statuses: initialized → success | failed | abandoned; success →
// reversed when Paystack reverses the charge.
const (
	PaymentInitialized PaymentStatus = "initialized"
	PaymentSuccess     PaymentStatus = "success"
	PaymentFailed      PaymentStatus = "failed"
	PaymentAbandoned   PaymentStatus = "abandoned"
	PaymentReversed    PaymentStatus = "reversed"
)

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
	// ReviewBooking puts a booking under review with a note (ADMIN).
	ReviewBooking(ctx context.Context, bookingID, note string) (*Booking, error)
}

// ErrNotFinal is returned by VerifyPayment when Paystack has no final answer
// yet (the buyer is still paying, or Paystack could not be asked): the
// verification is worth retrying.
type ErrNotFinal struct{ Status string }

func (e *ErrNotFinal) Error() string {
	return fmt.Sprintf("payment not final yet (paystack status %q)", e.Status)
}
