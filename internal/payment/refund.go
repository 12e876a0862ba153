package payment

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// ErrRefused marks a refund Paystack refused; retrying will not help.
var ErrRefused = errors.New("refused by Paystack")

// Outcomes of refund requests and retries, as counted in
// ticketd_refunds_requested_total.
const (
	refundAccepted       = "accepted"
	refundReplayed       = "replayed"
	refundRetried        = "retried"
	refundEventCancelled = "event_cancelled"
	refundBuyer          = "buyer"
	refundReview         = "review" // queued by a decision about a booking under review
	refundExceedsPaid    = "exceeds_paid"
	refundInvalidState   = "invalid_state"
	refundRefused        = "refused" // any other error
)

// RequestRefund implements ticketing.RefundService. The refund is recorded
// queued first, its amount checked under the payment's row lock; then it is
// enqueued. An enqueue that fails leaves it queued, and the reconciler
// enqueues it again.
func (s *Service) RequestRefund(ctx context.Context, n ticketing.NewRefund) (*ticketing.RefundRequest, error) {
	if !ticketing.ValidID(n.BookingID) {
		return nil, ticketing.NotFound("booking")
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	a, _ := ticketing.ActorFromContext(ctx)
	req, err := s.store.RequestRefund(ctx, n, a.UserID)
	if err != nil {
		s.countRequest(err)
		return nil, err
	}
	if !req.Created {
		s.metrics.RefundRequests.WithLabelValues(refundReplayed).Inc()
		return req, nil
	}
	s.metrics.RefundRequests.WithLabelValues(refundAccepted).Inc()
	s.queued(ctx, req)
	return req, nil
}

// RetryRefund implements ticketing.RefundService.
func (s *Service) RetryRefund(ctx context.Context, id string) (*ticketing.RefundRequest, error) {
	if !ticketing.ValidID(id) {
		return nil, ticketing.NotFound("refund")
	}
	req, err := s.store.RetryRefund(ctx, id)
	if err != nil {
		s.countRequest(err)
		return nil, err
	}
	s.metrics.RefundRequests.WithLabelValues(refundRetried).Inc()
	s.queued(ctx, req)
	return req, nil
}

// queued hands a refund just queued to its task.
func (s *Service) queued(ctx context.Context, req *ticketing.RefundRequest) {
	r := req.Refund
	// The refund is committed: asking Paystack for it must not depend on
	// the caller staying.
	ctx = context.WithoutCancel(ctx)
	if err := s.queue.EnqueueRefund(ctx, ticketing.TenantFromContext(ctx).ID, r.ID); err != nil {
		s.logger.ErrorContext(ctx, "enqueueing a refund; the reconciler will", "refund", r.ID, "error", err.Error())
	}
	if req.Voided {
		s.voided(ctx, r.BookingID, req.EventID)
	}
}

// voided is told when a refund request refunded its booking in full: the
// store has made the booking refunded, its tickets void and its places
// unsold, in the request's transaction. Redis still counts them sold, so
// the event's inventory is dropped and rebuilt from Postgres at its next
// use: the places are back on sale exactly once, whatever raced.
func (s *Service) voided(ctx context.Context, bookingID, eventID string) {
	s.logger.InfoContext(ctx, "a booking refunded; its tickets are void and its places back on sale", "booking", bookingID)
	tenantID := ticketing.TenantFromContext(ctx).ID
	if err := s.queue.EnqueueMail(ctx, tenantID, ticketing.MailBookingRefunded, bookingID); err != nil {
		s.logger.WarnContext(ctx, "enqueueing the refund mail failed; the sweep will", "booking", bookingID, "error", err.Error())
	}
	if err := s.inventory.Drop(ctx, inventory.Event{TenantID: tenantID, EventID: eventID}); err != nil {
		// The keys stay as they were: the places stay sold in Redis until
		// a rebuild (ticketd inventory check finds it).
		s.logger.ErrorContext(ctx, "dropping the inventory of a refunded booking's event", "event", eventID, "error", err.Error())
	}
}

// CancelPaidBooking implements ticketing.RefundService.
func (s *Service) CancelPaidBooking(ctx context.Context, bookingID string) (*ticketing.RefundRequest, error) {
	if !ticketing.ValidID(bookingID) {
		return nil, ticketing.NotFound("booking")
	}
	req, err := s.store.CancelPaidBooking(ctx, bookingID, ticketing.OwnerScope(ctx), time.Now())
	if err != nil {
		return nil, err
	}
	if req.Refund != nil {
		s.metrics.RefundRequests.WithLabelValues(refundBuyer).Inc()
		if err := s.queue.EnqueueRefund(context.WithoutCancel(ctx), ticketing.TenantFromContext(ctx).ID, req.Refund.ID); err != nil {
			s.logger.ErrorContext(ctx, "enqueueing a refund; the reconciler will", "refund", req.Refund.ID, "error", err.Error())
		}
	}
	s.voided(context.WithoutCancel(ctx), bookingID, req.EventID)
	return req, nil
}

// countRequest counts a refused refund request or retry.
func (s *Service) countRequest(err error) {
	outcome := refundRefused
	if e := ticketing.AsError(err); e != nil {
		switch e.Code {
		case ticketing.CodeRefundExceedsPaid:
			outcome = refundExceedsPaid
		case ticketing.CodeInvalidState:
			outcome = refundInvalidState
		}
	}
	s.metrics.RefundRequests.WithLabelValues(outcome).Inc()
}

// BookingRefunds implements ticketing.RefundService.
func (s *Service) BookingRefunds(ctx context.Context, bookingID string, page ticketing.Page) ([]*ticketing.Refund, string, error) {
	if !ticketing.ValidID(bookingID) {
		return nil, "", ticketing.NotFound("booking")
	}
	return s.store.FindRefunds(ctx, ticketing.RefundFilter{Page: page, BookingID: bookingID}, readerFilter(ctx))
}

// FindRefunds implements ticketing.RefundService.
func (s *Service) FindRefunds(ctx context.Context, f ticketing.RefundFilter) ([]*ticketing.Refund, string, error) {
	if readerFilter(ctx) != "" {
		return nil, "", ticketing.Errorf(ticketing.KindForbidden, ticketing.CodeForbidden, "only staff list refunds")
	}
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	return s.store.FindRefunds(ctx, f, "")
}

// readerFilter is the user whose bookings the actor may read the refunds
// of: themselves, or anyone's ("") for staff and the system.
func readerFilter(ctx context.Context) string {
	a, _ := ticketing.ActorFromContext(ctx)
	if a.Role == string(ticketing.RoleAdmin) || a.Role == ticketing.RoleSystem {
		return ""
	}
	return a.UserID
}

// Refund drives one refund with Paystack; it is what the refund's task
// runs. A queued refund is asked of Paystack, once per attempt (only an
// answer about the attempt still queued is recorded); a refund Paystack
// accepted is asked about until Paystack processed or failed it. It returns
// ErrNotFinal while Paystack is still at it (the task asks again later,
// with backoff), an error wrapping ErrRefused when Paystack refused it, and
// nil once it is final.
func (s *Service) Refund(ctx context.Context, refundID string) error {
	// An attempt that ends here may have been retried meanwhile (an admin
	// queued the next one while this task asked about the last): the
	// refund is read again, and its next attempt sent.
	for range 3 {
		r, err := s.store.FindRefund(ctx, refundID)
		if err != nil {
			return err
		}
		var status ticketing.RefundStatus
		switch r.Status {
		case ticketing.RefundQueued:
			status, err = s.sendRefund(ctx, r)
		case ticketing.RefundPending, ticketing.RefundProcessing:
			status, err = s.followRefund(ctx, ticketing.RefundInProgress{ID: r.ID, Attempt: r.Attempts, PaystackID: r.PaystackID})
		default:
			return nil // finished; a failed refund waits for a person to retry it
		}
		switch {
		case err != nil:
			return err
		case !status.Final():
			return &ticketing.ErrNotFinal{Status: "refund " + string(status)}
		}
	}
	return nil
}

// sendRefund asks Paystack for a queued refund's attempt and records its
// answer.
func (s *Service) sendRefund(ctx context.Context, r *ticketing.Refund) (ticketing.RefundStatus, error) {
	pr, err := s.gateway.Refund(ctx, paystack.RefundRequest{Transaction: r.Reference, Amount: r.Amount, Currency: r.Currency,
		MerchantNote: merchantNote(r)})
	// Whatever Paystack answered must be recorded, even if the task's
	// deadline passed meanwhile: a refund it accepted and we did not record
	// would be asked for again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	switch {
	case paystack.IsRejected(err):
		// Refused on its merits (more than the transaction's unrefunded
		// amount, say): asking again will not help. The row says why, and
		// an admin may retry it.
		s.logger.ErrorContext(ctx, "Paystack refused a refund; it needs attention", "refund", r.ID, "error", err.Error())
		if _, err := s.recordRefund(rctx, r.ID, r.Attempts, ticketing.RefundFailed, 0, err.Error()); err != nil {
			return "", err
		}
		return ticketing.RefundFailed, fmt.Errorf("payment: refund %s refused: %w", r.ID, ErrRefused)
	case err != nil:
		if _, uerr := s.recordRefund(rctx, r.ID, r.Attempts, ticketing.RefundQueued, 0, err.Error()); uerr != nil {
			s.logger.WarnContext(ctx, "recording a refund's error", "refund", r.ID, "error", uerr.Error())
		}
		return "", fmt.Errorf("payment: refund %s: %w", r.ID, err)
	}
	status, why := refundStatusOf(pr.Status)
	changed, err := s.recordRefund(rctx, r.ID, r.Attempts, status, pr.ID, why)
	if err != nil {
		return "", err
	}
	if !changed {
		// Only this task sends a queued attempt; a person must look.
		s.logger.ErrorContext(ctx, "Paystack accepted a refund whose attempt was no longer queued", "refund", r.ID,
			"attempt", r.Attempts, "paystackRefund", pr.ID)
		return ticketing.RefundFailed, nil
	}
	return status, nil
}

// followRefund asks Paystack how a refund it accepted is going, records the
// answer, and returns the status Paystack reports.
func (s *Service) followRefund(ctx context.Context, x ticketing.RefundInProgress) (ticketing.RefundStatus, error) {
	pr, err := s.gateway.FetchRefund(ctx, strconv.FormatUint(x.PaystackID, 10))
	if err != nil {
		return "", fmt.Errorf("payment: fetching refund %s: %w", x.ID, err)
	}
	status, why := refundStatusOf(pr.Status)
	if _, err := s.recordRefund(ctx, x.ID, x.Attempt, status, x.PaystackID, why); err != nil {
		return "", err
	}
	return status, nil
}

// recordRefund records what Paystack said of a refund's attempt and counts
// the refunds it finished.
func (s *Service) recordRefund(ctx context.Context, id string, attempt int, status ticketing.RefundStatus, paystackID uint64, lastError string) (bool, error) {
	changed, kind, err := s.store.UpdateRefund(ctx, id, attempt, status, paystackID, lastError)
	if err != nil || !changed || !status.Final() {
		return changed, err
	}
	s.metrics.RefundsFinished.WithLabelValues(string(kind), string(status)).Inc()
	if status == ticketing.RefundFailed {
		s.logger.ErrorContext(ctx, "a refund failed; an admin may retry it", "refund", id, "attempt", attempt, "error", lastError)
	}
	return true, nil
}

// refundStatusOf maps Paystack's refund status to ours, with why a failed
// refund failed. needs-attention (the buyer's account details are wanted)
// is failed here: a person must act, and may retry it.
func refundStatusOf(status string) (ticketing.RefundStatus, string) {
	switch status {
	case paystack.RefundProcessing:
		return ticketing.RefundProcessing, ""
	case paystack.RefundProcessed:
		return ticketing.RefundProcessed, ""
	case paystack.RefundFailed:
		return ticketing.RefundFailed, "Paystack reports the refund failed"
	case paystack.RefundNeedsAttention:
		return ticketing.RefundFailed, "Paystack reports the refund needs attention (needs-attention)"
	}
	return ticketing.RefundPending, "" // pending, or a status Paystack added since
}

// merchantNote is what the organizer sees of a refund on Paystack.
func merchantNote(r *ticketing.Refund) string {
	reason := []rune(r.Reason)
	if len(reason) > 200 {
		reason = append(reason[:200], '…')
	}
	return "ticketd: " + string(reason) + " (booking " + r.BookingID + ")"
}

// FollowRefunds asks Paystack about the refunds of the payment with
// reference that it accepted and has not finished, and records what it
// says: a refund webhook about the payment arrived. Like a charge webhook
// it is only a reason to ask, not an answer.
func (s *Service) FollowRefunds(ctx context.Context, reference string) error {
	refunds, err := s.store.RefundsInProgressOf(ctx, reference)
	if err != nil {
		return err
	}
	return s.follow(ctx, refunds)
}

// followRefunds asks Paystack how the refunds it accepted and that were
// last looked at age ago are going (their tasks may have given up).
func (s *Service) followRefunds(ctx context.Context, age time.Duration) error {
	refunds, err := s.store.RefundsInProgress(ctx, age, 200)
	if err != nil {
		return err
	}
	return s.follow(ctx, refunds)
}

func (s *Service) follow(ctx context.Context, refunds []ticketing.RefundInProgress) error {
	var errs []error
	for _, r := range refunds {
		fctx, cancel := context.WithTimeout(ctx, verifyTimeout)
		_, err := s.followRefund(fctx, r)
		cancel()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// eventRefundBatch is how many bookings of a cancelled event one round ends.
const eventRefundBatch = 50

// RefundCancelledEvent ends every confirmed booking of a cancelled event of
// the context's tenant: each becomes refunded with its tickets void, what
// was paid for it is refunded (a refund task each), and its buyer is
// mailed. Each booking is ended once, in its own transaction, so a worker
// stopped halfway leaves the rest for the next run (the sweep enqueues one
// while the event has confirmed bookings). It returns how many it ended.
func (s *Service) RefundCancelledEvent(ctx context.Context, eventID string) (int, error) {
	tenantID := ticketing.TenantFromContext(ctx).ID
	total := 0
	for {
		refunds, ended, err := s.store.RefundCancelledEvent(ctx, eventID, eventRefundBatch)
		for _, r := range refunds {
			if qerr := s.queue.EnqueueRefund(context.WithoutCancel(ctx), tenantID, r.ID); qerr != nil {
				s.logger.ErrorContext(ctx, "enqueueing a refund; the reconciler will", "refund", r.ID, "error", qerr.Error())
			}
			s.metrics.RefundRequests.WithLabelValues(refundEventCancelled).Inc()
		}
		for _, b := range ended {
			if qerr := s.queue.EnqueueMail(context.WithoutCancel(ctx), tenantID, ticketing.MailEventCancelled, b); qerr != nil {
				s.logger.WarnContext(ctx, "enqueueing a cancellation mail failed; the sweep will", "booking", b, "error", qerr.Error())
			}
		}
		total += len(ended)
		if err != nil {
			return total, err
		}
		if len(ended) == 0 {
			break
		}
	}
	if total > 0 {
		s.logger.InfoContext(ctx, "refunded the bookings of a cancelled event", "event", eventID, "bookings", total)
		if err := s.inventory.Drop(ctx, inventory.Event{TenantID: tenantID, EventID: eventID}); err != nil {
			s.logger.ErrorContext(ctx, "dropping the inventory of a cancelled event", "event", eventID, "error", err.Error())
		}
	}
	return total, nil
}

// CancelledEventsToRefund lists the context's tenant's cancelled events
// that still have confirmed bookings, for the sweep.
func (s *Service) CancelledEventsToRefund(ctx context.Context) ([]string, error) {
	return s.store.CancelledEventsToRefund(ctx, 100)
}

// EventRefundProgress tells how far refunding a cancelled event has come.
func (s *Service) EventRefundProgress(ctx context.Context, eventID string) (*ticketing.EventRefundProgress, error) {
	if !ticketing.ValidID(eventID) {
		return nil, ticketing.NotFound("event")
	}
	return s.store.EventRefundProgress(ctx, eventID)
}
