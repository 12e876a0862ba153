package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

type refundRequest struct {
	// Amount in minor units; omitted (or null), all that is left of what
	// was paid.
	Amount *int64 `json:"amount"`
	Reason string `json:"reason"`
}

type refundResponse struct {
	ID          string    `json:"id"`
	BookingID   string    `json:"bookingId"`
	PaymentID   string    `json:"paymentId"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Reason      string    `json:"reason"`
	Kind        string    `json:"kind"`
	Status      string    `json:"status"`
	LastError   string    `json:"lastError"`
	Attempts    int       `json:"attempts"`
	RequestedBy *string   `json:"requestedBy"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func toRefundResponse(r *ticketing.Refund) refundResponse {
	out := refundResponse{ID: r.ID, BookingID: r.BookingID, PaymentID: r.PaymentID, Amount: r.Amount, Currency: r.Currency,
		Reason: r.Reason, Kind: string(r.Kind), Status: string(r.Status), LastError: r.LastError, Attempts: r.Attempts,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.RequestedBy != "" {
		out.RequestedBy = &r.RequestedBy
	}
	return out
}

// requestRefund refunds all or part of a confirmed booking: 201 with the
// refund, queued; 200 with the refund an Idempotency-Key made before.
func (s *Server) requestRefund(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	var req refundRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	out, err := s.deps.Refunds.RequestRefund(c.UserContext(), ticketing.NewRefund{BookingID: id, Amount: req.Amount,
		Reason: req.Reason, IdempotencyKey: strings.Clone(c.Get(HeaderIdempotencyKey))})
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if out.Created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(toRefundResponse(out.Refund))
}

func (s *Server) bookingRefunds(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	refunds, next, err := s.deps.Refunds.BookingRefunds(c.UserContext(), id, page)
	if err != nil {
		return err
	}
	return c.JSON(listOf(refunds, toRefundResponse, next))
}

func (s *Server) listRefunds(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := ticketing.RefundFilter{Page: page, Status: ticketing.RefundStatus(strings.Clone(c.Query("status"))),
		BookingID: strings.Clone(c.Query("bookingId"))}
	refunds, next, err := s.deps.Refunds.FindRefunds(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(listOf(refunds, toRefundResponse, next))
}

// retryRefund queues a failed refund again, as a new Paystack refund.
func (s *Server) retryRefund(c *fiber.Ctx) error {
	id, err := pathID(c, "refund")
	if err != nil {
		return err
	}
	out, err := s.deps.Refunds.RetryRefund(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toRefundResponse(out.Refund))
}

// cancelEvent cancels an event and has the worker refund its confirmed
// bookings: every buyer gets what they paid back, and a mail. The sweep
// enqueues the refunds again while any booking is left, so a lost enqueue
// only delays them.
func (s *Server) cancelEvent(ctx context.Context, id string, version *int) (*ticketing.Event, error) {
	e, err := s.deps.Events.CancelEvent(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if err := s.deps.PaymentQueue.EnqueueEventRefunds(context.WithoutCancel(ctx), ticketing.TenantFromContext(ctx).ID, e.ID); err != nil {
		s.deps.Logger.WarnContext(ctx, "enqueueing the refunds of a cancelled event failed; the sweep will", "event", e.ID, "error", err.Error())
	}
	return e, nil
}

// eventRefunds is GET /v1/events/:id/refunds: how far refunding a
// cancelled event's bookings has come.
func (s *Server) eventRefunds(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	p, err := s.deps.Refunds.EventRefundProgress(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"bookingsLeft": p.ConfirmedLeft, "bookingsRefunded": p.Refunded,
		"refundsInProgress": p.RefundsInProgress, "refundsProcessed": p.RefundsProcessed, "refundsFailed": p.RefundsFailed,
		"amountRefunded": p.AmountProcessed})
}
