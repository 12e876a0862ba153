package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qLockChargesOfBooking  = query("LockChargesOfBooking")
	qCountChargesOfBooking = query("CountChargesOfBooking")
	qCountBookingTickets   = query("CountBookingTickets")
	qResolveBooking        = query("ResolveBooking")
)

// charge is a successful payment of a booking, locked.
type charge struct {
	id       string
	confirms bool // it confirmed the booking
	paid     int64
	currency string
}

// ResolveReview takes a booking out of review as r decides (see
// ticketing.ReviewDecision), in one transaction: the booking's charges are
// locked, then the booking, and only a booking still under review changes.
// Whatever a charge it does not keep paid and its refunds that did not fail
// do not cover is queued as an admin refund by resolvedBy, with the note as
// its reason. A close of a booking with valid tickets ends it as a full
// refund of a confirmed booking does (voidBooking, and the buyer's mail).
func (s *PaymentStore) ResolveReview(ctx context.Context, r ticketing.ResolveReview, resolvedBy string) (*ticketing.Resolution, error) {
	var out *ticketing.Resolution
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		out = &ticketing.Resolution{}
		// Refused before any lock when it is plainly not under review.
		b, err := scanBooking(tx.QueryRow(ctx, qSelectBooking, r.BookingID, nil))
		if err != nil {
			return err
		}
		if err := requireReview(b); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, qLockChargesOfBooking, b.ID)
		if err != nil {
			return err
		}
		charges, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (charge, error) {
			var c charge
			err := row.Scan(&c.id, &c.confirms, &c.paid, &c.currency)
			return c, err
		})
		if err != nil {
			return err
		}
		if b, err = scanBooking(tx.QueryRow(ctx, qLockBookingForPayment, b.ID, nil)); err != nil {
			return err
		}
		// Another admin decided while this one waited for the locks.
		if err := requireReview(b); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, qCountChargesOfBooking, b.ID).Scan(&n); err != nil {
			return err
		}
		if n != len(charges) {
			// Settled between the two locks: locking it now, after the
			// booking, could deadlock with its settlement's next run.
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState,
				"a payment of the booking was settled meanwhile; look at the booking again and decide")
		}
		var valid, tickets int
		if err := tx.QueryRow(ctx, qCountBookingTickets, b.ID).Scan(&valid, &tickets); err != nil {
			return err
		}
		to := ticketing.BookingConfirmed
		switch {
		case r.Decision == ticketing.ReviewRestore && valid == 0:
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState,
				"the booking has no valid tickets to restore (it was not confirmed, or was refunded, when it was flagged); close it instead")
		case r.Decision == ticketing.ReviewClose && tickets > 0:
			to = ticketing.BookingRefunded
		case r.Decision == ticketing.ReviewClose:
			to = ticketing.BookingCancelled
		}
		for _, c := range charges {
			if r.Decision == ticketing.ReviewRestore && c.confirms {
				continue // kept: it paid for the tickets that stand
			}
			if err := refundLeft(ctx, tx, c, b.ID, r.Note, resolvedBy, out); err != nil {
				return err
			}
		}
		if err := resolve(ctx, tx, b, to, valid > 0, out); err != nil {
			return err
		}
		if out.Booking, err = scanBooking(tx.QueryRow(ctx, qSelectBooking, b.ID, nil)); err != nil {
			return err
		}
		if err := loadItems(ctx, tx, []*ticketing.Booking{out.Booking}); err != nil {
			return err
		}
		queued := make([]map[string]any, 0, len(out.Refunds))
		for _, rf := range out.Refunds {
			queued = append(queued, map[string]any{"id": rf.ID, "paymentId": rf.PaymentID, "amount": rf.Amount, "currency": rf.Currency})
		}
		return writeAudit(ctx, tx, "booking.resolve", "booking", b.ID, map[string]any{
			"decision": r.Decision, "note": r.Note, "from": b.Status, "to": out.Booking.Status, "reviewNote": b.ReviewNote,
			"validTickets": valid, "ticketsVoided": out.Voided, "refunds": queued})
	})
	if err != nil {
		return nil, translate(err, "booking")
	}
	return out, nil
}

// requireReview refuses a booking that is not under review.
func requireReview(b *ticketing.Booking) error {
	if st := displayStatus(b); st != ticketing.BookingReview {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the booking is %s; only a booking under review can be resolved", st)
	}
	return nil
}

// resolve moves a locked booking under review to status to. A booking
// with valid tickets that ends refunded goes through confirmed, so that
// the refund of a confirmed booking ends it (voidBooking): its tickets
// void, their places unsold and its seats free, exactly once.
func resolve(ctx context.Context, tx pgx.Tx, b *ticketing.Booking, to ticketing.BookingStatus, valid bool, out *ticketing.Resolution) error {
	step := to
	if to == ticketing.BookingRefunded && valid {
		step = ticketing.BookingConfirmed
	}
	if _, err := tx.Exec(ctx, qResolveBooking, b.ID, step); err != nil {
		return err
	}
	switch {
	case step != to:
		var req ticketing.RefundRequest
		if err := endRefunded(ctx, tx, b, &req); err != nil {
			return err
		}
		if !req.Voided { // the booking is locked and was just confirmed
			return errors.New("postgres: a closed booking was not voided")
		}
		out.Voided = true
	case to == ticketing.BookingCancelled:
		// It holds nothing: a review released its seats already.
		_, err := tx.Exec(ctx, qDeactivateBookingSeats, []string{b.ID})
		return err
	}
	return nil
}

// refundLeft queues, as an admin's refund added to out, what a locked
// charge paid that its refunds that did not fail do not cover, if anything.
func refundLeft(ctx context.Context, tx pgx.Tx, c charge, bookingID, reason, requestedBy string, out *ticketing.Resolution) error {
	var refunded int64
	if err := tx.QueryRow(ctx, qSumRefunds, c.id, nil).Scan(&refunded); err != nil {
		return err
	}
	left := c.paid - refunded
	if left <= 0 {
		return nil
	}
	var id string
	if err := tx.QueryRow(ctx, qInsertAdminRefund, c.id, bookingID, left, c.currency, reason, requestedBy, nil).Scan(&id); err != nil {
		return err
	}
	r, err := scanRefund(tx.QueryRow(ctx, qSelectRefund, id))
	if err != nil {
		return err
	}
	out.Refunds = append(out.Refunds, r)
	return nil
}
