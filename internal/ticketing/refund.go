package ticketing

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// RefundStatus is the state of one refund.
type RefundStatus string

// Refund statuses, and the transitions between them. Each is written by one
// conditional UPDATE that names the refund's attempt, so that what Paystack
// says of an earlier attempt is never recorded against a later one; the race
// each guards against is named with it.
//
//   - queued: owed, not yet accepted by Paystack. A refund is inserted
//     queued only under its payment's row lock, after the refunds of the
//     payment that did not fail, plus this one, were found to add up to at
//     most what was paid: two admins refunding the same booking at once are
//     checked one after the other, and the second sees the first.
//   - queued → pending, processing, processed: Paystack accepted the refund
//     (its id is recorded). Only from queued, so a refund is sent once per
//     attempt however many tasks run for it.
//   - queued → failed: Paystack refused it on its merits (more than the
//     transaction's unrefunded amount, say), with its reason in lastError.
//     Paystack not answering leaves it queued with the error; the task and
//     the reconciler ask again.
//   - pending → processing → processed | failed: what Paystack reports, by
//     polling its refund and when a refund webhook arrives. Only forward:
//     an answer fetched before a later one was recorded cannot move the
//     refund back. Paystack's needs-attention is recorded as failed.
//   - failed → queued: an admin retries it (a new attempt, a new Paystack
//     refund), under the payment's row lock and only if it still fits in
//     what was paid. processed is final.
const (
	RefundQueued     RefundStatus = "queued"
	RefundPending    RefundStatus = "pending"
	RefundProcessing RefundStatus = "processing"
	RefundProcessed  RefundStatus = "processed"
	RefundFailed     RefundStatus = "failed"
)

// Valid reports whether s is a refund status.
func (s RefundStatus) Valid() bool {
	switch s {
	case RefundQueued, RefundPending, RefundProcessing, RefundProcessed, RefundFailed:
		return true
	}
	return false
}

// Final reports whether Paystack is done with the refund's attempt.
func (s RefundStatus) Final() bool { return s == RefundProcessed || s == RefundFailed }

// RefundKind says who decided a refund.
type RefundKind string

// Refund kinds.
const (
	// RefundAutomatic: a successful charge that could not become tickets
	// (paid late and sold out, paid twice, paid for a closed booking) is
	// refunded in full, at most once per payment.
	RefundAutomatic RefundKind = "automatic"
	// RefundAdmin: organizer staff refunded all or part of a confirmed
	// booking, or decided about a booking under review (ReviewDecision).
	RefundAdmin RefundKind = "admin"
	// RefundBuyer: the buyer cancelled a confirmed booking as its event's
	// refund policy allows; what was paid less the fee is refunded.
	RefundBuyer RefundKind = "buyer"
	// RefundEventCancelled: the event was cancelled, and each of its
	// confirmed bookings is refunded what is left of its charge.
	RefundEventCancelled RefundKind = "event_cancelled"
)

// Error codes of refunds.
const (
	// CodeRefundExceedsPaid: the refund asked for is more than what is left
	// of the payment after its refunds that did not fail.
	CodeRefundExceedsPaid = "REFUND_EXCEEDS_PAID"
	// CodeCancellationNotAllowed: the event's refund policy does not let
	// the buyer cancel a paid booking (now).
	CodeCancellationNotAllowed = "CANCELLATION_NOT_ALLOWED"
	// CodeIdempotencyKeyReused: an Idempotency-Key sent again with a
	// different request.
	CodeIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
)

// Bounds of a refund request.
const (
	MaxRefundReasonRunes   = 500
	MaxIdempotencyKeyBytes = 200
)

// Refund is one refund of all or part of a successful charge.
type Refund struct {
	ID        string
	BookingID string
	PaymentID string
	// Reference is the payment's: the Paystack transaction refunded.
	Reference string
	Amount    int64
	Currency  string
	Reason    string
	Kind      RefundKind
	Status    RefundStatus
	// LastError is why the refund failed, or what went wrong when asking
	// Paystack last; "" otherwise.
	LastError string
	// PaystackID is the id of the current attempt's Paystack refund, 0
	// until Paystack accepted it.
	PaystackID uint64
	// RequestedBy is the user who asked for the refund; "" for automatic
	// refunds.
	RequestedBy string
	// Attempts counts the Paystack refunds made for it: 1, plus one per
	// retry.
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewRefund is an admin's request to refund a confirmed booking.
type NewRefund struct {
	BookingID string
	// Amount in minor units; nil refunds whatever is left of what was paid.
	Amount *int64
	Reason string
	// IdempotencyKey, when set, makes a retried request return the refund
	// the first one made.
	IdempotencyKey string
}

// Validate checks the request's shape and trims its reason; the payment
// decides the rest.
func (n *NewRefund) Validate() error {
	n.Reason = strings.TrimSpace(n.Reason)
	var p Problems
	p.Addf(n.Amount != nil && *n.Amount <= 0, "amount must be a positive number of minor units")
	p.Addf(n.Reason == "" || utf8.RuneCountInString(n.Reason) > MaxRefundReasonRunes,
		"reason must be 1-%d characters", MaxRefundReasonRunes)
	p.Addf(strings.ContainsFunc(n.Reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }),
		"reason must not contain control characters")
	p.Addf(len(n.IdempotencyKey) > MaxIdempotencyKeyBytes, "Idempotency-Key must be at most %d characters", MaxIdempotencyKeyBytes)
	return p.Err()
}

// RefundFilter selects refunds.
type RefundFilter struct {
	Page
	Status    RefundStatus
	BookingID string
}

// Validate checks the filter's fields.
func (f RefundFilter) Validate() error {
	var p Problems
	p.Addf(f.Status != "" && !f.Status.Valid(), "status must be one of queued, pending, processing, processed, failed")
	p.Addf(f.BookingID != "" && !ValidID(f.BookingID), "bookingId must be a UUID")
	return p.Err()
}

// RefundRequest is what asking for a refund (or retrying one) did.
type RefundRequest struct {
	Refund *Refund
	// Created is false when an Idempotency-Key named a refund made before.
	Created bool
	// FullyRefunded: the payment's refunds that did not fail now add up to
	// all that was paid.
	FullyRefunded bool
	// Voided: this request refunded the booking in full, voided its
	// tickets and took them off the event's sold counts; EventID is the
	// event whose places came back.
	Voided  bool
	EventID string
}

// RefundService refunds confirmed bookings on behalf of organizer staff.
type RefundService interface {
	// RequestRefund records a refund of all that is left (Amount nil) or
	// part of what was paid for a confirmed booking, and queues it for
	// Paystack. Returns KindConflict (INVALID_STATE) for a booking that is
	// not confirmed, KindUnprocessable (REFUND_EXCEEDS_PAID) when the amount
	// is more than what is left, KindConflict (IDEMPOTENCY_KEY_REUSED) for
	// a key sent before with another request, KindNotFound for an unknown
	// booking and KindInvalid for bad input.
	RequestRefund(ctx context.Context, n NewRefund) (*RefundRequest, error)
	// RetryRefund queues a failed refund again, as a new Paystack refund.
	// Returns KindConflict (INVALID_STATE) for a refund that has not
	// failed and KindUnprocessable (REFUND_EXCEEDS_PAID) when it no longer
	// fits in what was paid.
	RetryRefund(ctx context.Context, id string) (*RefundRequest, error)
	// CancelPaidBooking cancels a confirmed booking of the actor (any for
	// staff) under its event's refund policy: the booking is refunded, its
	// tickets void, and what was paid less the policy's fee (and less
	// what was refunded before) goes back. Returns KindUnprocessable
	// (CANCELLATION_NOT_ALLOWED) when the policy does not allow it (now).
	CancelPaidBooking(ctx context.Context, bookingID string) (*RefundRequest, error)
	// EventRefundProgress tells how far refunding the bookings of a
	// cancelled event has come.
	EventRefundProgress(ctx context.Context, eventID string) (*EventRefundProgress, error)
	// BookingRefunds lists the refunds of a booking of the actor (of any
	// booking for staff), newest first. Returns KindNotFound for a booking
	// the actor cannot see.
	BookingRefunds(ctx context.Context, bookingID string, page Page) ([]*Refund, string, error)
	// FindRefunds lists refunds, newest first (ADMIN).
	FindRefunds(ctx context.Context, f RefundFilter) ([]*Refund, string, error)
}

// EventRefundProgress is how far refunding a cancelled event has come.
type EventRefundProgress struct {
	// ConfirmedLeft are the bookings still to end; Refunded those ended.
	ConfirmedLeft, Refunded int
	// The event's refunds by status, and the amount Paystack has refunded.
	RefundsInProgress, RefundsProcessed, RefundsFailed int
	AmountProcessed                                    int64
}
