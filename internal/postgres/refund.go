package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qSelectRefund                      = query("SelectRefund")
	qVoidBookingTickets                = query("VoidBookingTickets")
	qSelectRefundPolicy                = query("SelectRefundPolicy")
	qInsertBuyerRefund                 = query("InsertBuyerRefund")
	qConfirmedBookingsOfCancelledEvent = query("ConfirmedBookingsOfCancelledEvent")
	qInsertEventCancelledRefund        = query("InsertEventCancelledRefund")
	qCancelledEventsToRefund           = query("CancelledEventsToRefund")
	qEventRefundProgress               = query("EventRefundProgress")
	qUnsellTickets                     = query("UnsellTickets")
	qMarkBookingRefunded               = query("MarkBookingRefunded")
	qSelectRefundByKey                 = query("SelectRefundByKey")
	qLockRefund                        = query("LockRefund")
	qListRefunds                       = query("ListRefunds")
	qLockConfirmingPayment             = query("LockConfirmingPayment")
	qLockPaymentOfRefund               = query("LockPaymentOfRefund")
	qSumRefunds                        = query("SumRefunds")
	qInsertAdminRefund                 = query("InsertAdminRefund")
	qRequeueRefund                     = query("RequeueRefund")
	qUpdateRefund                      = query("UpdateRefund")
	qSelectQueuedRefunds               = query("SelectQueuedRefunds")
	qSelectRefundsInProgress           = query("SelectRefundsInProgress")
	qSelectRefundsInProgressOfPayment  = query("SelectRefundsInProgressOfPayment")
)

// refundIdempotencyKey is the unique index of refunds' Idempotency-Keys.
const refundIdempotencyKey = "refunds_idempotency_key"

var errRefundKeyReused = ticketing.Errorf(ticketing.KindConflict, ticketing.CodeIdempotencyKeyReused,
	"this Idempotency-Key was used for a different refund request; use a new key")

func scanRefund(row pgx.Row) (*ticketing.Refund, error) {
	var r ticketing.Refund
	var paystackID *int64
	err := row.Scan(&r.ID, &r.BookingID, &r.PaymentID, &r.Reference, &r.Amount, &r.Currency, &r.Reason, &r.Kind,
		&r.Status, &r.LastError, &paystackID, &r.RequestedBy, &r.Attempts, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if paystackID != nil {
		r.PaystackID = uint64(*paystackID)
	}
	return &r, nil
}

// RequestRefund records an admin's refund of a confirmed booking, queued
// for Paystack: the amount asked for, or all that is left of what was paid
// when n.Amount is nil. The payment that confirmed the booking is locked
// first, so the refunds of one payment are checked against what it paid one
// at a time: however many requests race, the refunds that did not fail
// never add up to more than what was paid. A request whose Idempotency-Key
// made a refund before gets that refund (Created false).
func (s *PaymentStore) RequestRefund(ctx context.Context, n ticketing.NewRefund, requestedBy string) (*ticketing.RefundRequest, error) {
	var out *ticketing.RefundRequest
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		b, err := scanBooking(tx.QueryRow(ctx, qSelectBooking, n.BookingID, nil))
		if err != nil {
			return err
		}
		if out, err = refundOfKey(ctx, tx, n); out != nil || err != nil {
			return err
		}
		// A refunded booking has nothing left to refund: the sum says so.
		if st := displayStatus(b); st != ticketing.BookingConfirmed && st != ticketing.BookingRefunded {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the booking is %s; only a confirmed booking can be refunded", st)
		}
		var paymentID, currency string
		var paid int64
		err = tx.QueryRow(ctx, qLockConfirmingPayment, b.ID).Scan(&paymentID, &paid, &currency)
		if errors.Is(err, pgx.ErrNoRows) {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "no payment confirmed this booking; there is nothing to refund")
		}
		if err != nil {
			return err
		}
		// A concurrent request with the same key waited for the lock above
		// and committed its refund meanwhile: that refund is the answer.
		if out, err = refundOfKey(ctx, tx, n); out != nil || err != nil {
			return err
		}
		if paid == 0 {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the booking was free; there is nothing to refund")
		}
		var refunded int64
		if err := tx.QueryRow(ctx, qSumRefunds, paymentID, nil).Scan(&refunded); err != nil {
			return err
		}
		left := paid - refunded
		amount := left
		if n.Amount != nil {
			amount = *n.Amount
		}
		switch {
		case left <= 0:
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeRefundExceedsPaid,
				"nothing is left to refund: refunds of %s cover all that was paid", formatMoney(refunded, currency))
		case amount > left:
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeRefundExceedsPaid,
				"a refund of %s is more than what is left to refund: %s (paid %s, refunded or being refunded %s)",
				formatMoney(amount, currency), formatMoney(left, currency), formatMoney(paid, currency), formatMoney(refunded, currency))
		}
		var id string
		if err := tx.QueryRow(ctx, qInsertAdminRefund, paymentID, b.ID, amount, currency, n.Reason, requestedBy,
			nullIfEmpty(n.IdempotencyKey)).Scan(&id); err != nil {
			return err
		}
		r, err := scanRefund(tx.QueryRow(ctx, qSelectRefund, id))
		if err != nil {
			return err
		}
		out = &ticketing.RefundRequest{Refund: r, Created: true, FullyRefunded: refunded+amount == paid}
		if out.FullyRefunded {
			if err := endRefunded(ctx, tx, b, out); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, "refund.request", "refund", id, map[string]any{
			"bookingId": b.ID, "paymentId": paymentID, "amount": amount, "currency": currency, "reason": n.Reason,
			"paid": paid, "refundedBefore": refunded})
	})
	if isUniqueViolation(err, refundIdempotencyKey) {
		// The same key for another booking, sent at the same time.
		return nil, errRefundKeyReused
	}
	if err != nil {
		return nil, translate(err, "booking")
	}
	return out, nil
}

// refundOfKey returns the refund the request's Idempotency-Key made, if it
// made one, when the request is the same one again; a different request
// with the key is a conflict.
func refundOfKey(ctx context.Context, tx pgx.Tx, n ticketing.NewRefund) (*ticketing.RefundRequest, error) {
	if n.IdempotencyKey == "" {
		return nil, nil
	}
	r, err := scanRefund(tx.QueryRow(ctx, qSelectRefundByKey, n.IdempotencyKey))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	case r.BookingID != n.BookingID || r.Reason != n.Reason || (n.Amount != nil && *n.Amount != r.Amount):
		return nil, errRefundKeyReused
	}
	return &ticketing.RefundRequest{Refund: r}, nil
}

// RetryRefund queues a failed refund again as its next attempt, if it still
// fits in what its payment paid beside the payment's other refunds that did
// not fail (checked under the payment's row lock, as RequestRefund does).
func (s *PaymentStore) RetryRefund(ctx context.Context, id string) (*ticketing.RefundRequest, error) {
	var out *ticketing.RefundRequest
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var paymentID string
		var paid int64
		if err := tx.QueryRow(ctx, qLockPaymentOfRefund, id).Scan(&paymentID, &paid); err != nil {
			return err
		}
		r, err := scanRefund(tx.QueryRow(ctx, qLockRefund, id))
		if err != nil {
			return err
		}
		if r.Status != ticketing.RefundFailed {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the refund is %s; only a failed refund can be retried", r.Status)
		}
		var others int64
		if err := tx.QueryRow(ctx, qSumRefunds, paymentID, id).Scan(&others); err != nil {
			return err
		}
		if others+r.Amount > paid {
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeRefundExceedsPaid,
				"the refund of %s no longer fits in what was paid: %s of %s is refunded or being refunded by other refunds",
				formatMoney(r.Amount, r.Currency), formatMoney(others, r.Currency), formatMoney(paid, r.Currency))
		}
		if _, err := tx.Exec(ctx, qRequeueRefund, id); err != nil {
			return err
		}
		previous := r.LastError
		if r, err = scanRefund(tx.QueryRow(ctx, qSelectRefund, id)); err != nil {
			return err
		}
		out = &ticketing.RefundRequest{Refund: r, Created: true, FullyRefunded: others+r.Amount == paid}
		if out.FullyRefunded {
			b, err := scanBooking(tx.QueryRow(ctx, qSelectBooking, r.BookingID, nil))
			if err != nil {
				return err
			}
			if err := endRefunded(ctx, tx, b, out); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, "refund.retry", "refund", id, map[string]any{
			"bookingId": r.BookingID, "paymentId": paymentID, "amount": r.Amount, "currency": r.Currency,
			"attempt": r.Attempts, "previousError": previous})
	})
	if err != nil {
		return nil, translate(err, "refund")
	}
	return out, nil
}

// FindRefund returns a refund of the context's tenant.
func (s *PaymentStore) FindRefund(ctx context.Context, id string) (*ticketing.Refund, error) {
	var r *ticketing.Refund
	err := s.db.InTenant(ctx, func(tx pgx.Tx) (err error) {
		r, err = scanRefund(tx.QueryRow(ctx, qSelectRefund, id))
		return err
	})
	if err != nil {
		return nil, translate(err, "refund")
	}
	return r, nil
}

// FindRefunds lists refunds, newest first. With f.BookingID, the booking
// must exist and, when ownerID is set, be that user's (else NotFound).
func (s *PaymentStore) FindRefunds(ctx context.Context, f ticketing.RefundFilter, ownerID string) ([]*ticketing.Refund, string, error) {
	after, afterID, err := cursorArgs(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	size := f.Page.Size()
	var out []*ticketing.Refund
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if f.BookingID != "" {
			if _, err := scanBooking(tx.QueryRow(ctx, qSelectBooking, f.BookingID, nullIfEmpty(ownerID))); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, qListRefunds, after, afterID, nullIfEmpty(string(f.Status)), nullIfEmpty(f.BookingID), size+1)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.Refund, error) { return scanRefund(r) })
		return err
	})
	if err != nil {
		return nil, "", translate(err, "booking")
	}
	out, next := trimPage(out, size, func(r *ticketing.Refund) (time.Time, string) { return r.CreatedAt, r.ID })
	return out, next, nil
}

// UpdateRefund records what Paystack said of attempt attempt of a refund
// (see ticketing.RefundStatus for the transitions it allows). paystackID
// is 0 when not known. changed is false, with nothing written, when the
// refund is finished, at another attempt, further along, or about another
// Paystack refund; kind is the refund's when it changed.
func (s *PaymentStore) UpdateRefund(ctx context.Context, id string, attempt int, status ticketing.RefundStatus, paystackID uint64, lastError string) (changed bool, kind ticketing.RefundKind, err error) {
	var pid *int64
	if paystackID != 0 {
		v := int64(paystackID)
		pid = &v
	}
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, qUpdateRefund, id, attempt, status, pid, lastError).Scan(&kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		changed = err == nil
		return err
	})
	return changed, kind, translate(err, "refund")
}

// OwedRefunds returns refunds of the context's tenant still owed after age.
func (s *PaymentStore) OwedRefunds(ctx context.Context, age time.Duration, limit int) ([]string, error) {
	return s.references(ctx, qSelectQueuedRefunds, age.Seconds(), limit)
}

// RefundsInProgress returns refunds of the context's tenant that Paystack
// accepted and were last looked at age ago or more.
func (s *PaymentStore) RefundsInProgress(ctx context.Context, age time.Duration, limit int) ([]ticketing.RefundInProgress, error) {
	return s.refundsInProgress(ctx, qSelectRefundsInProgress, age.Seconds(), limit)
}

// RefundsInProgressOf returns the refunds of the payment with reference
// that Paystack accepted and has not finished.
func (s *PaymentStore) RefundsInProgressOf(ctx context.Context, reference string) ([]ticketing.RefundInProgress, error) {
	return s.refundsInProgress(ctx, qSelectRefundsInProgressOfPayment, reference)
}

func (s *PaymentStore) refundsInProgress(ctx context.Context, q string, args ...any) ([]ticketing.RefundInProgress, error) {
	var out []ticketing.RefundInProgress
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.RefundInProgress, error) {
			var x ticketing.RefundInProgress
			var id int64
			err := r.Scan(&x.ID, &x.Attempt, &id)
			x.PaystackID = uint64(id)
			return x, err
		})
		return err
	})
	return out, translate(err, "refund")
}

// endRefunded ends the booking whose refunds the request completed: void,
// with a mail to its buyer, once (Voided says whether this request did it).
func endRefunded(ctx context.Context, tx pgx.Tx, b *ticketing.Booking, out *ticketing.RefundRequest) error {
	var err error
	if out.Voided, err = voidBooking(ctx, tx, b.ID); err != nil || !out.Voided {
		return err
	}
	out.EventID = b.EventID
	return addMail(ctx, tx, ticketing.MailBookingRefunded, b.ID)
}

// voidBooking ends a confirmed booking refunded in full, once: the booking
// becomes refunded, its tickets void (with new secrets) and off their ticket
// types' sold counts, and its seats free. It reports whether it did, false
// for a booking no longer confirmed. The caller holds the lock of the
// payment that confirmed the booking.
func voidBooking(ctx context.Context, tx pgx.Tx, bookingID string) (bool, error) {
	tag, err := tx.Exec(ctx, qMarkBookingRefunded, bookingID)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	rows, err := tx.Query(ctx, qVoidBookingTickets, bookingID)
	if err != nil {
		return false, err
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, err
	}
	counts := map[string]int{}
	for _, t := range types {
		counts[t]++
	}
	for t, n := range counts {
		if _, err := tx.Exec(ctx, qUnsellTickets, t, n); err != nil {
			return false, err
		}
	}
	if _, err := tx.Exec(ctx, qDeactivateBookingSeats, []string{bookingID}); err != nil {
		return false, err
	}
	return true, writeAudit(ctx, tx, "booking.refunded", "booking", bookingID, map[string]any{"ticketsVoided": len(types)})
}

// EventRefundReason is the reason of the refunds of a cancelled event.
const EventRefundReason = "the event was cancelled"

// RefundCancelledEvent ends up to limit confirmed bookings of a cancelled
// event, each in a transaction of its own and exactly once, however many
// workers do it at once: the booking becomes refunded, its tickets void,
// whatever of its payment is not refunded yet is queued as a refund, and a
// mail to its buyer is written down. It returns the refunds queued and the
// bookings ended; none once the event has no confirmed booking left (or is
// not cancelled).
func (s *PaymentStore) RefundCancelledEvent(ctx context.Context, eventID string, limit int) ([]*ticketing.Refund, []string, error) {
	var ids []string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qConfirmedBookingsOfCancelledEvent, eventID, limit)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, nil, translate(err, "event")
	}
	var refunds []*ticketing.Refund
	var ended []string
	for _, id := range ids {
		r, done, err := s.endForCancelledEvent(ctx, id)
		if err != nil {
			return refunds, ended, err
		}
		if done {
			ended = append(ended, id)
		}
		if r != nil {
			refunds = append(refunds, r)
		}
	}
	return refunds, ended, nil
}

// endForCancelledEvent ends one confirmed booking of a cancelled event; done
// is false when it was no longer confirmed.
func (s *PaymentStore) endForCancelledEvent(ctx context.Context, bookingID string) (*ticketing.Refund, bool, error) {
	var refund *ticketing.Refund
	var done bool
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		// The payment's lock first, as Settle and RequestRefund take it.
		var paymentID, currency string
		var paid int64
		err := tx.QueryRow(ctx, qLockConfirmingPayment, bookingID).Scan(&paymentID, &paid, &currency)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if done, err = voidBooking(ctx, tx, bookingID); err != nil || !done {
			return err
		}
		var left int64
		if paymentID != "" && paid > 0 {
			var refunded int64
			if err := tx.QueryRow(ctx, qSumRefunds, paymentID, nil).Scan(&refunded); err != nil {
				return err
			}
			left = paid - refunded
		}
		if left > 0 {
			var id string
			if err := tx.QueryRow(ctx, qInsertEventCancelledRefund, paymentID, bookingID, left, currency, EventRefundReason).Scan(&id); err != nil {
				return err
			}
			if refund, err = scanRefund(tx.QueryRow(ctx, qSelectRefund, id)); err != nil {
				return err
			}
		}
		if err := addMail(ctx, tx, ticketing.MailEventCancelled, bookingID); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "booking.event_cancelled", "booking", bookingID, map[string]any{"refunded": left, "currency": currency})
	})
	if err != nil {
		return nil, false, translate(err, "booking")
	}
	return refund, done, nil
}

// CancelledEventsToRefund lists the tenant's cancelled events that still
// have confirmed bookings, at most limit of them.
func (s *PaymentStore) CancelledEventsToRefund(ctx context.Context, limit int) ([]string, error) {
	var ids []string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qCancelledEventsToRefund, limit)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return ids, translate(err, "event")
}

// EventRefundProgress tells how far refunding a cancelled event has come.
func (s *PaymentStore) EventRefundProgress(ctx context.Context, eventID string) (*ticketing.EventRefundProgress, error) {
	var p ticketing.EventRefundProgress
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if err := requireEvent(ctx, tx, eventID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, qEventRefundProgress, eventID).Scan(&p.ConfirmedLeft, &p.Refunded, &p.RefundsInProgress,
			&p.RefundsProcessed, &p.RefundsFailed, &p.AmountProcessed)
	})
	if err != nil {
		return nil, translate(err, "event")
	}
	return &p, nil
}

// BuyerRefundReason is the reason of the refund of a booking its buyer
// cancelled.
const BuyerRefundReason = "cancelled by the buyer"

// CancelPaidBooking cancels a confirmed booking under its event's refund
// policy, once; userID, when not empty, must own the booking. The booking
// becomes refunded with its tickets void, and what was paid, less the
// policy's fee and what was refunded before, is queued as a refund.
func (s *PaymentStore) CancelPaidBooking(ctx context.Context, bookingID, userID string, now time.Time) (*ticketing.RefundRequest, error) {
	var out *ticketing.RefundRequest
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		b, err := scanBooking(tx.QueryRow(ctx, qSelectBooking, bookingID, nullIfEmpty(userID)))
		if err != nil {
			return err
		}
		if st := displayStatus(b); st != ticketing.BookingConfirmed {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the booking is %s; only a pending or confirmed booking can be cancelled", st)
		}
		var policy ticketing.RefundPolicy
		var startsAt time.Time
		if err := tx.QueryRow(ctx, qSelectRefundPolicy, b.EventID).Scan(&policy.BuyerCancellation, &policy.UntilHours, &policy.FeeBps, &startsAt); err != nil {
			return err
		}
		closes := startsAt.Add(-time.Duration(policy.UntilHours) * time.Hour)
		switch {
		case !policy.BuyerCancellation:
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeCancellationNotAllowed, "the organizer does not let buyers cancel paid bookings of this event")
		case !now.Before(closes):
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeCancellationNotAllowed,
				"cancellations closed %d hours before the event, at %s", policy.UntilHours, closes.UTC().Format(time.RFC3339))
		}
		// The payment's lock first, as Settle and RequestRefund take it.
		var paymentID, currency string
		var paid, refunded int64
		if err := tx.QueryRow(ctx, qLockConfirmingPayment, b.ID).Scan(&paymentID, &paid, &currency); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if paymentID != "" {
			if err := tx.QueryRow(ctx, qSumRefunds, paymentID, nil).Scan(&refunded); err != nil {
				return err
			}
		}
		out = &ticketing.RefundRequest{Created: true}
		if err := endRefunded(ctx, tx, b, out); err != nil {
			return err
		}
		if !out.Voided {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the booking was cancelled or refunded meanwhile")
		}
		amount := paid - policy.Fee(paid) - refunded
		if amount > 0 {
			a, _ := ticketing.ActorFromContext(ctx)
			var id string
			if err := tx.QueryRow(ctx, qInsertBuyerRefund, paymentID, b.ID, amount, currency, BuyerRefundReason, a.UserID).Scan(&id); err != nil {
				return err
			}
			if out.Refund, err = scanRefund(tx.QueryRow(ctx, qSelectRefund, id)); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, "booking.cancel_paid", "booking", b.ID, map[string]any{
			"paid": paid, "fee": policy.Fee(paid), "refundedBefore": refunded, "refund": max(amount, 0), "currency": currency})
	})
	if err != nil {
		return nil, translate(err, "booking")
	}
	return out, nil
}
