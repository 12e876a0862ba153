package ticketing

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ReviewDecision is how an admin takes a booking out of review.
//
// A booking comes to review with valid tickets (it was confirmed when an
// admin flagged it: its tickets stay valid at the door meanwhile, and its
// places stay sold) or without (it was pending, and its hold was released;
// or a charge whose amount or currency did not match what was asked
// confirmed nothing and is kept, unrefunded, until a person decides). The
// decisions, each one transaction that locks the booking's successful
// payments and then the booking, the order a settlement takes them in:
//
//   - restore: review → confirmed, for a booking with valid tickets only;
//     they stay as they are. A booking without any has nothing to stand on
//     (its places went back on sale): it can only be closed, and its buyer
//     book again.
//   - close: review → refunded for a booking with tickets (valid ones
//     become void with new secrets and their places go back on sale, as a
//     full refund of a confirmed booking does), review → cancelled for one
//     that never had any.
//
// Either way, whatever of the booking's successful charges is not refunded
// yet and did not confirm a booking that stands is queued as a refund (kind
// admin, the note its reason): a restore refunds the charges that did not
// confirm it (a mismatched one), a close every charge. So what Paystack
// charged is what confirmed a booking plus what is refunded, once the
// booking is out of review. A charge of another amount is never accepted
// instead (there is no "confirm anyway"): the organizer did not price it,
// its places may be sold since, and a currency mismatch cannot be one; the
// admin closes the booking and the buyer books again.
//
// Races: two admins deciding at once are one after the other under the
// booking's row lock, and only a booking still under review is resolved,
// so the second gets INVALID_STATE; a refund request or retry of the same
// payment waits for the payment's lock and then sees these refunds; a
// charge settling meanwhile either settles first (and the decision sees
// it, or refuses when it settled between the two locks) or sees the
// booking resolved.
type ReviewDecision string

// Review decisions.
const (
	ReviewRestore ReviewDecision = "restore"
	ReviewClose   ReviewDecision = "close"
)

// Valid reports whether d is a review decision.
func (d ReviewDecision) Valid() bool { return d == ReviewRestore || d == ReviewClose }

// MaxResolveNoteRunes bounds the note of a decision: it becomes the reason
// of the refunds the decision queues.
const MaxResolveNoteRunes = MaxRefundReasonRunes

// ResolveReview is an admin's decision about a booking under review.
type ResolveReview struct {
	BookingID string
	Decision  ReviewDecision
	// Note says why; it is audited and is the reason of the refunds queued.
	Note string
}

// Validate checks the decision's shape and trims its note.
func (r *ResolveReview) Validate() error {
	r.Note = strings.TrimSpace(r.Note)
	var p Problems
	p.Addf(!r.Decision.Valid(), "decision must be restore or close")
	p.Addf(r.Note == "" || utf8.RuneCountInString(r.Note) > MaxResolveNoteRunes, "note must be 1-%d characters", MaxResolveNoteRunes)
	p.Addf(strings.ContainsFunc(r.Note, func(c rune) bool { return unicode.IsControl(c) && c != '\n' && c != '\t' }),
		"note must not contain control characters")
	return p.Err()
}

// Resolution is what a decision about a booking under review did.
type Resolution struct {
	// Booking is the booking afterwards, with its items.
	Booking *Booking
	// Refunds are the refunds the decision queued, none when every charge
	// was refunded or confirmed the booking that stands.
	Refunds []*Refund
	// Voided: the booking's tickets became void and their places came back
	// on sale (Booking.EventID's).
	Voided bool
}
