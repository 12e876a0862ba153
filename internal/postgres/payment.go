package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qLockBookingForPayment          = query("LockBookingForPayment")
	qSelectBuyerEmail               = query("SelectBuyerEmail")
	qSelectOpenPayment              = query("SelectOpenPayment")
	qNextPaymentAttempt             = query("NextPaymentAttempt")
	qInsertPayment                  = query("InsertPayment")
	qInsertPaymentRoute             = query("InsertPaymentRoute")
	qClaimPaymentInit               = query("ClaimPaymentInit")
	qSetPaymentCheckout             = query("SetPaymentCheckout")
	qReleasePaymentClaim            = query("ReleasePaymentClaim")
	qEndClaimedPayment              = query("EndClaimedPayment")
	qRecordPaymentCheck             = query("RecordPaymentCheck")
	qTakePaymentCheck               = query("TakePaymentCheck")
	qAbandonUnknownPayment          = query("AbandonUnknownPayment")
	qSelectBookingLive              = query("SelectBookingLive")
	qSelectPaymentByReference       = query("SelectPaymentByReference")
	qLockPaymentByReference         = query("LockPaymentByReference")
	qRecordPaymentOutcome           = query("RecordPaymentOutcome")
	qSelectTenantOfReference        = query("SelectTenantOfReference")
	qConfirmBooking                 = query("ConfirmBooking")
	qFailBookingWithReason          = query("FailBookingWithReason")
	qReviewBookingWithNote          = query("ReviewBookingWithNote")
	qReviewPaidBooking              = query("ReviewPaidBooking")
	qAddSold                        = query("AddSold")
	qInsertTickets                  = query("InsertTickets")
	qReactivateBookingSeats         = query("ReactivateBookingSeats")
	qInsertRefund                   = query("InsertRefund")
	qListPayments                   = query("ListPayments")
	qSelectStalePayments            = query("SelectStalePayments")
	qSelectOpenPaymentsOfDueBooking = query("SelectOpenPaymentsOfDueBookings")
	qInsertWebhookEvent             = query("InsertWebhookEvent")
	qMarkInventorySynced            = query("MarkInventorySynced")
	qSelectUnsyncedPayments         = query("SelectUnsyncedPayments")
	qDeleteOldWebhookEvents         = query("DeleteOldWebhookEvents")
)

const codeCheckViolation = "23514"

// PaymentStore keeps payment attempts, refunds and webhook events.
type PaymentStore struct{ db *DB }

// NewPaymentStore returns a PaymentStore on db.
func NewPaymentStore(db *DB) *PaymentStore { return &PaymentStore{db: db} }

func scanPayment(row pgx.Row) (*ticketing.Payment, error) {
	var (
		p                    ticketing.Payment
		paystackID, paidAmt  *int64
		paidCurrency         *string
		paidAt, verifiedAt   *time.Time
		createdAt, updatedAt time.Time
	)
	err := row.Scan(&p.ID, &p.BookingID, &p.Attempt, &p.Reference, &p.Amount, &p.Currency, &p.Status,
		&p.AuthorizationURL, &p.AccessCode, &paystackID, &paidAmt, &paidCurrency, &p.GatewayResponse, &p.Channel,
		&paidAt, &verifiedAt, &p.Outcome, &createdAt, &updatedAt, &p.InventoryHold, &p.InventorySynced,
		&p.CheckedAt, &p.Initializing, &p.EventID)
	if err != nil {
		return nil, err
	}
	if paystackID != nil {
		p.PaystackID = uint64(*paystackID)
	}
	if paidAmt != nil {
		p.PaidAmount = *paidAmt
	}
	if paidCurrency != nil {
		p.PaidCurrency = *paidCurrency
	}
	p.PaidAt, p.VerifiedAt, p.CreatedAt, p.UpdatedAt = paidAt, verifiedAt, createdAt, updatedAt
	return &p, nil
}

// OpenPayment returns the open attempt of a pending booking (or the attempt
// made with idempotencyKey), or records a new one with the next reference.
// userID, when set, must own the booking. The booking row is locked, so two
// concurrent calls open one attempt; an attempt without a checkout is
// claimed for claimFor by one of them (see ticketing.PaymentStatus).
func (s *PaymentStore) OpenPayment(ctx context.Context, bookingID, userID, idempotencyKey string, claimFor time.Duration) (*ticketing.OpenedPayment, error) {
	var out ticketing.OpenedPayment
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		b, err := scanBooking(tx.QueryRow(ctx, qLockBookingForPayment, bookingID, nullIfEmpty(userID)))
		if err != nil {
			return err
		}
		out.Booking = b
		if err := tx.QueryRow(ctx, qSelectBuyerEmail, b.UserID).Scan(&out.Email); err != nil {
			return err
		}
		if st := displayStatus(b); st != ticketing.BookingPending {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the booking is %s; only a pending booking can be paid", st)
		}
		p, err := scanPayment(tx.QueryRow(ctx, qSelectOpenPayment, bookingID, nullIfEmpty(idempotencyKey)))
		switch {
		case err == nil && p.Status != ticketing.PaymentInitialized:
			// Only the key's own attempt is selected in another state.
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodePaymentAttemptEnded,
				"the payment attempt started with this Idempotency-Key is %s; start a new payment with a new key", p.Status)
		case err == nil:
			out.Payment = p
		case errors.Is(err, pgx.ErrNoRows):
			var attempt int
			if err := tx.QueryRow(ctx, qNextPaymentAttempt, bookingID).Scan(&attempt); err != nil {
				return err
			}
			ref := ticketing.PaymentReference(bookingID, attempt)
			if out.Payment, err = scanPayment(tx.QueryRow(ctx, qInsertPayment, bookingID, attempt, ref, b.Total, b.Currency, nullIfEmpty(idempotencyKey))); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, qInsertPaymentRoute, ref); err != nil {
				return err
			}
			out.Created = true
			if err := writeAudit(ctx, tx, "payment.open", "payment", ref, map[string]any{"bookingId": bookingID, "amount": b.Total, "currency": b.Currency}); err != nil {
				return err
			}
		default:
			return err
		}
		if out.Payment.AuthorizationURL != "" || out.Payment.Amount == 0 {
			return nil
		}
		err = tx.QueryRow(ctx, qClaimPaymentInit, out.Payment.ID, claimFor.Seconds()).Scan(&out.Claim)
		if errors.Is(err, pgx.ErrNoRows) {
			out.Payment.Initializing = true
			return nil
		}
		return err
	})
	if err != nil {
		return nil, translate(err, "booking")
	}
	return &out, nil
}

// SetCheckout records where the buyer pays an open attempt, for the holder
// of its claim. ok is false, with nothing written, when the claim was taken
// over or the attempt ended meanwhile: that checkout must not be handed out.
func (s *PaymentStore) SetCheckout(ctx context.Context, paymentID, claim, authorizationURL, accessCode string) (ok bool, err error) {
	return s.execClaimed(ctx, qSetPaymentCheckout, paymentID, claim, authorizationURL, accessCode)
}

// ReleaseClaim gives up the claim to initialize an attempt, so that the
// next caller initializes it at once.
func (s *PaymentStore) ReleaseClaim(ctx context.Context, paymentID, claim string) error {
	_, err := s.execClaimed(ctx, qReleasePaymentClaim, paymentID, claim)
	return err
}

// EndClaimed ends an attempt that has no checkout, for the holder of its
// claim: failed when Paystack refused it, abandoned when its checkout was
// lost. ok is false, with nothing written, when the claim was taken over.
func (s *PaymentStore) EndClaimed(ctx context.Context, paymentID, claim string, status ticketing.PaymentStatus, why string) (ok bool, err error) {
	return s.execClaimed(ctx, qEndClaimedPayment, paymentID, claim, status, why)
}

// execClaimed runs an update of one attempt guarded by its claim and
// reports whether it changed the row.
func (s *PaymentStore) execClaimed(ctx context.Context, q, paymentID, claim string, args ...any) (bool, error) {
	var n int64
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, append([]any{paymentID, claim}, args...)...)
		n = tag.RowsAffected()
		return err
	})
	return n == 1, translate(err, "payment")
}

// PaymentByReference returns a payment of the context's tenant.
func (s *PaymentStore) PaymentByReference(ctx context.Context, reference string) (*ticketing.Payment, error) {
	var p *ticketing.Payment
	err := s.db.InTenant(ctx, func(tx pgx.Tx) (err error) {
		p, err = scanPayment(tx.QueryRow(ctx, qSelectPaymentByReference, reference))
		return err
	})
	return p, translate(err, "payment")
}

// TenantOfReference returns the tenant a payment reference belongs to, from
// the routing table (no tenant scope is needed to read it).
func (s *PaymentStore) TenantOfReference(ctx context.Context, reference string) (string, error) {
	var id string
	err := s.db.Pool.QueryRow(ctx, qSelectTenantOfReference, reference).Scan(&id)
	return id, translate(err, "payment")
}

// MarkUnpaid records a verification that found no payment: failed (the
// checkout is spent), or abandoned (not paid yet, which Paystack may still
// turn into a success later). An attempt whose booking is still pending with
// its hold running is not abandoned: it stays open, with the check recorded,
// so the buyer can come back to the same checkout; a failed one stays
// failed. changed reports whether the status changed; a settled attempt is
// left alone.
func (s *PaymentStore) MarkUnpaid(ctx context.Context, reference string, status ticketing.PaymentStatus, c ticketing.Charge) (p *ticketing.Payment, changed bool, err error) {
	err = s.db.InTenant(ctx, func(tx pgx.Tx) (err error) {
		if p, err = scanPayment(tx.QueryRow(ctx, qLockPaymentByReference, reference)); err != nil {
			return err
		}
		if p.Status.Settled() {
			return nil
		}
		now := time.Now()
		keep := p.Status == ticketing.PaymentFailed
		if status == ticketing.PaymentAbandoned && p.Status == ticketing.PaymentInitialized {
			if err := tx.QueryRow(ctx, qSelectBookingLive, p.BookingID).Scan(&keep); err != nil {
				return err
			}
		}
		if keep {
			// Only the check is recorded: it paces the next question.
			p.CheckedAt, p.GatewayResponse = &now, c.GatewayResponse
			_, err := tx.Exec(ctx, qRecordPaymentCheck, p.ID, c.GatewayResponse)
			return err
		}
		if err := recordOutcome(ctx, tx, p, status, c, now, "", "", true); err != nil {
			return err
		}
		changed = p.Status != status
		applyOutcome(p, status, c, now, "")
		return nil
	})
	return p, changed, translate(err, "payment")
}

// TakeCheck takes the right to ask Paystack about an unsettled attempt now,
// unless it was asked about less than every ago. It returns nil when taken,
// or when the attempt may next be asked about.
func (s *PaymentStore) TakeCheck(ctx context.Context, paymentID string, every time.Duration) (*time.Time, error) {
	var taken bool
	var next *time.Time
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, qTakePaymentCheck, paymentID, every.Seconds()).Scan(&taken, &next)
	})
	if err != nil {
		return nil, translate(err, "payment")
	}
	if taken {
		return nil, nil
	}
	if next == nil { // settled meanwhile: asking again at once finds that
		now := time.Now()
		next = &now
	}
	return next, nil
}

// AbandonUnknown abandons an attempt Paystack does not know, if it still
// has no checkout, nobody is initializing it and its booking's hold is
// over. It returns the attempt as it stands.
func (s *PaymentStore) AbandonUnknown(ctx context.Context, reference string) (p *ticketing.Payment, changed bool, err error) {
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qAbandonUnknownPayment, reference)
		if err != nil {
			return err
		}
		changed = tag.RowsAffected() == 1
		p, err = scanPayment(tx.QueryRow(ctx, qSelectPaymentByReference, reference))
		return err
	})
	return p, changed, translate(err, "payment")
}

// RecordCheck records that Paystack answered about an attempt without a
// final word (the buyer is still paying).
func (s *PaymentStore) RecordCheck(ctx context.Context, paymentID, gatewayResponse string) error {
	return translate(s.db.InTenant(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, qRecordPaymentCheck, paymentID, gatewayResponse)
		return err
	}), "payment")
}

func recordOutcome(ctx context.Context, tx pgx.Tx, p *ticketing.Payment, status ticketing.PaymentStatus, c ticketing.Charge, at time.Time, outcome, hold string, synced bool) error {
	var paystackID, paidAmount *int64
	var paidCurrency *string
	if c.PaystackID != 0 {
		id := int64(c.PaystackID)
		paystackID = &id
	}
	if status == ticketing.PaymentSuccess {
		paidAmount, paidCurrency = &c.Amount, &c.Currency
	}
	_, err := tx.Exec(ctx, qRecordPaymentOutcome, p.ID, status, paystackID, paidAmount, paidCurrency,
		c.GatewayResponse, c.Channel, c.PaidAt, at, outcome, hold, synced)
	return err
}

// applyOutcome makes p what recordOutcome wrote.
func applyOutcome(p *ticketing.Payment, status ticketing.PaymentStatus, c ticketing.Charge, at time.Time, outcome string) {
	p.Status, p.Outcome, p.VerifiedAt, p.CheckedAt, p.UpdatedAt = status, outcome, &at, &at, at
	p.GatewayResponse, p.Channel, p.PaidAt = c.GatewayResponse, c.Channel, c.PaidAt
	if c.PaystackID != 0 {
		p.PaystackID = c.PaystackID
	}
	if status == ticketing.PaymentSuccess {
		p.PaidAmount, p.PaidCurrency = c.Amount, c.Currency
	}
}

var errNeedHold = errors.New("postgres: settlement needs a hold")

// Settle applies a successful charge, in one transaction: the payment
// becomes success, and the booking is confirmed with its sold counts and
// tickets, or put under review (amount or currency differ), or failed with
// a refund owed (paid too late for what is left, or paid twice). A charge
// is settled once, however many verifications race. A confirmation writes
// down the buyer's mail (mail_outbox) in the same transaction.
//
// lateHold names the hold the caller took again for ticketing.SettleLateHeld. The
// settlement records which hold Redis must confirm (or release) and leaves
// the payment unsynced until MarkInventorySynced.
func (s *PaymentStore) Settle(ctx context.Context, reference string, c ticketing.Charge, mode ticketing.SettleMode, lateHold string) (*ticketing.Settlement, error) {
	var out *ticketing.Settlement
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		out = &ticketing.Settlement{}
		p, err := scanPayment(tx.QueryRow(ctx, qLockPaymentByReference, reference))
		if err != nil {
			return err
		}
		out.Payment = p
		b, err := scanBooking(tx.QueryRow(ctx, qLockBookingForPayment, p.BookingID, nil))
		if err != nil {
			return err
		}
		if err := loadItems(ctx, tx, []*ticketing.Booking{b}); err != nil {
			return err
		}
		out.Booking = b
		if p.Status.Settled() {
			out.AlreadySettled = true
			return nil
		}
		now := time.Now()
		live := b.Status == ticketing.BookingPending && b.ExpiresAt.After(now)
		late := b.Status == ticketing.BookingExpired || (b.Status == ticketing.BookingPending && !live)
		switch {
		case b.Status == ticketing.BookingConfirmed:
			out.Outcome = ticketing.CodeAlreadyPaid
		case c.Amount != p.Amount || !strings.EqualFold(c.Currency, p.Currency):
			out.Outcome = ticketing.CodeAmountMismatch
			note := "charged " + formatMoney(c.Amount, c.Currency) + ", expected " + formatMoney(p.Amount, p.Currency) + " (payment " + reference + ")"
			if _, err := tx.Exec(ctx, qReviewBookingWithNote, b.ID, note); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, qDeactivateBookingSeats, []string{b.ID}); err != nil {
				return err
			}
			b.Status, b.ReviewNote = ticketing.BookingReview, note
		case b.Status != ticketing.BookingPending && b.Status != ticketing.BookingExpired:
			out.Outcome = ticketing.CodeBookingClosed
		case live || (late && mode == ticketing.SettleLateHeld):
			ok, err := confirm(ctx, tx, b, late)
			if err != nil {
				return err
			}
			if ok {
				out.Confirmed = true
				b.Status = ticketing.BookingConfirmed
				// The buyer's mail is written down with the confirmation,
				// so it is sent even if its task is never enqueued.
				if err := addMail(ctx, tx, ticketing.MailBookingConfirmed, b.ID); err != nil {
					return err
				}
				break
			}
			out.Outcome = ticketing.CodeLatePaymentSoldOut
			if err := failBooking(ctx, tx, b, out.Outcome); err != nil {
				return err
			}
		case mode == ticketing.SettleNormal:
			out.NeedHold = true
			return errNeedHold
		default: // late, ticketing.SettleLateSoldOut
			out.Outcome = ticketing.CodeLatePaymentSoldOut
			if err := failBooking(ctx, tx, b, out.Outcome); err != nil {
				return err
			}
		}
		hold := b.ID
		switch {
		case out.Outcome == ticketing.CodeAlreadyPaid:
			hold = "" // another payment's settlement owns the booking's hold
		case mode == ticketing.SettleLateHeld:
			hold = lateHold
		}
		if err := recordOutcome(ctx, tx, p, ticketing.PaymentSuccess, c, now, out.Outcome, hold, false); err != nil {
			return err
		}
		applyOutcome(p, ticketing.PaymentSuccess, c, now, out.Outcome)
		p.InventoryHold, p.InventorySynced = hold, false
		b.UpdatedAt = now
		if out.Outcome != "" && out.Outcome != ticketing.CodeAmountMismatch {
			// Paid for nothing: the whole charge goes back.
			if err := tx.QueryRow(ctx, qInsertRefund, p.ID, b.ID, c.Amount, c.Currency, out.Outcome).Scan(&out.RefundID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		return writeAudit(ctx, tx, "payment.settle", "payment", reference, map[string]any{
			"bookingId": b.ID, "confirmed": out.Confirmed, "outcome": out.Outcome, "amount": c.Amount, "currency": c.Currency})
	})
	if errors.Is(err, errNeedHold) {
		return out, nil
	}
	if err != nil {
		return nil, translate(err, "payment")
	}
	return out, nil
}

// confirm records the sale of a booking's tickets. It returns false, with
// nothing written, when Postgres refuses it: a ticket type would sell beyond
// its capacity, or a seat is sold or held by another booking (only possible
// for a late payment).
func confirm(ctx context.Context, tx pgx.Tx, b *ticketing.Booking, late bool) (bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, err
	}
	err = func() error {
		if late {
			if _, err := sp.Exec(ctx, qReactivateBookingSeats, b.ID); err != nil {
				return err
			}
		}
		for _, it := range b.Items {
			if _, err := sp.Exec(ctx, qAddSold, it.TicketTypeID, it.Quantity); err != nil {
				return err
			}
			seats := it.SeatIDs
			if seats == nil {
				seats = []string{}
			}
			if _, err := sp.Exec(ctx, qInsertTickets, b.ID, b.EventID, it.TicketTypeID, seats, it.Quantity); err != nil {
				return err
			}
		}
		_, err := sp.Exec(ctx, qConfirmBooking, b.ID)
		return err
	}()
	if err == nil {
		return true, sp.Commit(ctx)
	}
	if rerr := sp.Rollback(ctx); rerr != nil {
		return false, rerr
	}
	if pe := pgError(err); pe != nil && (pe.Code == codeCheckViolation || pe.Code == codeUniqueViolation) {
		return false, nil
	}
	return false, err
}

func failBooking(ctx context.Context, tx pgx.Tx, b *ticketing.Booking, reason string) error {
	if _, err := tx.Exec(ctx, qFailBookingWithReason, b.ID, reason); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, qDeactivateBookingSeats, []string{b.ID}); err != nil {
		return err
	}
	b.Status, b.FailureReason = ticketing.BookingFailed, reason
	return nil
}

// formatMoney writes minor units with their currency, e.g. "NGN 1500.00".
func formatMoney(amount int64, currency string) string {
	return fmt.Sprintf("%s %d.%02d", currency, amount/100, abs(amount%100))
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// FindPayments lists payments, newest first.
func (s *PaymentStore) FindPayments(ctx context.Context, f ticketing.PaymentFilter) ([]*ticketing.Payment, string, error) {
	after, afterID, err := cursorArgs(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	size := f.Page.Size()
	var out []*ticketing.Payment
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qListPayments, after, afterID, nullIfEmpty(string(f.Status)), nullIfEmpty(f.BookingID), nullIfEmpty(f.Reference), size+1)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.Payment, error) { return scanPayment(r) })
		return err
	})
	if err != nil {
		return nil, "", translate(err, "payment")
	}
	out, next := trimPage(out, size, func(p *ticketing.Payment) (time.Time, string) { return p.CreatedAt, p.ID })
	return out, next, nil
}

// StaleReferences returns open attempts of the context's tenant that
// Paystack has not told us about for age, the longest silent first.
func (s *PaymentStore) StaleReferences(ctx context.Context, age time.Duration, limit int) ([]string, error) {
	return s.references(ctx, qSelectStalePayments, age.Seconds(), limit)
}

// MarkInventorySynced records that Redis followed a settlement.
func (s *PaymentStore) MarkInventorySynced(ctx context.Context, reference string) error {
	return translate(s.db.InTenant(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, qMarkInventorySynced, reference)
		return err
	}), "payment")
}

// UnsyncedReferences returns settled payments of the context's tenant whose
// Redis step has been outstanding for age.
func (s *PaymentStore) UnsyncedReferences(ctx context.Context, age time.Duration, limit int) ([]string, error) {
	return s.references(ctx, qSelectUnsyncedPayments, age.Seconds(), limit)
}

// DueReferences returns the open attempts of pending bookings whose hold ran
// out, for the expiry to verify before it expires them.
func (s *PaymentStore) DueReferences(ctx context.Context, limit int) ([]string, error) {
	return s.references(ctx, qSelectOpenPaymentsOfDueBooking, limit)
}

func (s *PaymentStore) references(ctx context.Context, q string, args ...any) ([]string, error) {
	var refs []string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		refs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return refs, translate(err, "payment")
}

// ReviewBooking puts a confirmed booking under review with a note, or
// changes the note of a booking under review; the booking keeps its
// tickets. Any other booking (not paid, or ended) is KindConflict
// (INVALID_STATE) and left unchanged. The status is decided by the
// UPDATE's WHERE, so a settlement, refund or decision committed meanwhile
// is never overwritten.
func (s *PaymentStore) ReviewBooking(ctx context.Context, id, note string) (*ticketing.Booking, error) {
	var b *ticketing.Booking
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var from string
		err := tx.QueryRow(ctx, qReviewPaidBooking, id, note).Scan(&from)
		if errors.Is(err, pgx.ErrNoRows) {
			existing, ferr := scanBooking(tx.QueryRow(ctx, qSelectBooking, id, nil))
			if ferr != nil {
				return ferr
			}
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState,
				"the booking is %s; only a confirmed booking, or one under review, can be put under review", displayStatus(existing))
		}
		if err != nil {
			return err
		}
		if b, err = scanBooking(tx.QueryRow(ctx, qSelectBooking, id, nil)); err != nil {
			return err
		}
		if err := loadItems(ctx, tx, []*ticketing.Booking{b}); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "booking.review", "booking", id, map[string]any{"note": note, "from": from})
	})
	return b, translate(err, "booking")
}

// RecordWebhook stores an accepted webhook once; first is false for a
// redelivery of a body stored before.
func (s *PaymentStore) RecordWebhook(ctx context.Context, bodySHA256, event, reference string, payload []byte) (first bool, err error) {
	err = s.db.Pool.QueryRow(ctx, qInsertWebhookEvent, bodySHA256, event, reference, payload).Scan(&first)
	return first, translate(err, "webhook event")
}

// ForgetWebhooks deletes stored webhook events older than age, at most
// limit of them, and returns how many it deleted.
func (s *PaymentStore) ForgetWebhooks(ctx context.Context, age time.Duration, limit int) (int64, error) {
	tag, err := s.db.Pool.Exec(ctx, qDeleteOldWebhookEvents, age.Seconds(), limit)
	return tag.RowsAffected(), translate(err, "webhook event")
}
