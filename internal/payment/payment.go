// Package payment takes payments for bookings through Paystack. It opens
// attempts (Paystack initialize), and verifies them: it never trusts a
// redirect or a webhook, only what Paystack's verify endpoint answers, and
// applies a successful charge once, in one Postgres transaction
// (postgres.PaymentStore.Settle), before turning the Redis hold into sold
// tickets. A charge that cannot become tickets (paid twice, paid after the
// hold ran out and the tickets sold, paid for a closed booking) is refunded
// in full; one whose amount or currency differ puts the booking under review.
// It implements ticketing.PaymentService.
package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Gateway is Paystack (paystack.Client).
type Gateway interface {
	Initialize(ctx context.Context, req paystack.InitializeRequest) (*paystack.Authorization, error)
	Verify(ctx context.Context, reference string) (*paystack.Transaction, error)
	ListTransactions(ctx context.Context, opts paystack.ListOptions) ([]paystack.Transaction, *paystack.Meta, error)
	Refund(ctx context.Context, req paystack.RefundRequest) (*paystack.Refund, error)
}

// Store is the Postgres side (postgres.PaymentStore).
type Store interface {
	OpenPayment(ctx context.Context, bookingID, userID, idempotencyKey string) (*postgres.OpenedPayment, error)
	SetCheckout(ctx context.Context, paymentID, authorizationURL, accessCode string) error
	PaymentByReference(ctx context.Context, reference string) (*ticketing.Payment, error)
	MarkUnpaid(ctx context.Context, reference string, status ticketing.PaymentStatus, c ticketing.Charge) (*ticketing.Payment, error)
	Settle(ctx context.Context, reference string, c ticketing.Charge, mode postgres.SettleMode) (*postgres.Settlement, error)
	FindRefund(ctx context.Context, id string) (*postgres.Refund, error)
	UpdateRefund(ctx context.Context, id, status string, paystackID uint64, lastError string) error
	FindPayments(ctx context.Context, f ticketing.PaymentFilter) ([]*ticketing.Payment, string, error)
	StaleReferences(ctx context.Context, age time.Duration, limit int) ([]string, error)
	DueReferences(ctx context.Context, limit int) ([]string, error)
	OwedRefunds(ctx context.Context, age time.Duration, limit int) ([]string, error)
	ReviewBooking(ctx context.Context, id, note string) (*ticketing.Booking, error)
}

// Inventory is the Redis side (inventory.Store).
type Inventory interface {
	Hold(ctx context.Context, ev inventory.Event, h inventory.Hold) error
	Confirm(ctx context.Context, ev inventory.Event, holdID string) (bool, error)
	Release(ctx context.Context, ev inventory.Event, holdID string) (bool, error)
	Drop(ctx context.Context, ev inventory.Event) error
}

// Queue enqueues the refunds owed (the asynq client).
type Queue interface {
	EnqueueRefund(ctx context.Context, tenantID, refundID string) error
}

// Config configures a Service.
type Config struct {
	// PublicURL is the external base URL of the API: Paystack redirects
	// buyers to PublicURL/v1/payments/callback.
	PublicURL string
	// LateHold is how long a late payment's tickets are held while the
	// settlement is written.
	LateHold time.Duration
}

// Service implements ticketing.PaymentService.
type Service struct {
	gateway   Gateway
	store     Store
	inventory Inventory
	queue     Queue
	logger    *slog.Logger
	metrics   *telemetry.Metrics
	cfg       Config
}

var _ ticketing.PaymentService = (*Service)(nil)

// New returns a Service that counts what it does in m.
func New(gateway Gateway, store Store, inv Inventory, queue Queue, logger *slog.Logger, m *telemetry.Metrics, cfg Config) *Service {
	if cfg.LateHold <= 0 {
		cfg.LateHold = 2 * time.Minute
	}
	return &Service{gateway: gateway, store: store, inventory: inv, queue: queue, logger: logger, metrics: m, cfg: cfg}
}

// CallbackURL is where Paystack sends the buyer after paying.
func (s *Service) CallbackURL() string { return s.cfg.PublicURL + "/v1/payments/callback" }

// StartPayment implements ticketing.PaymentService.
func (s *Service) StartPayment(ctx context.Context, bookingID, idempotencyKey string) (*ticketing.Checkout, error) {
	if !ticketing.ValidID(bookingID) {
		return nil, ticketing.NotFound("booking")
	}
	if len(idempotencyKey) > 255 {
		return nil, ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, "Idempotency-Key must be at most 255 characters")
	}
	opened, err := s.store.OpenPayment(ctx, bookingID, ownerFilter(ctx), idempotencyKey)
	if err != nil {
		return nil, err
	}
	p := opened.Payment
	if p.AuthorizationURL != "" {
		return &ticketing.Checkout{AuthorizationURL: p.AuthorizationURL, AccessCode: p.AccessCode, Reference: p.Reference, Created: opened.Created}, nil
	}
	tenant := ticketing.TenantFromContext(ctx)
	req := paystack.InitializeRequest{
		Email: opened.Email, Amount: p.Amount, Currency: p.Currency, Reference: p.Reference,
		CallbackURL: s.CallbackURL(),
		Metadata:    map[string]any{"tenantId": tenant.ID, "bookingId": bookingID, "reference": p.Reference},
	}
	if tenant.PaystackSubaccount != "" {
		req.Subaccount = tenant.PaystackSubaccount
		req.TransactionCharge = p.Amount * int64(tenant.PlatformFeeBps) / 10000
	}
	auth, err := s.gateway.Initialize(ctx, req)
	if err != nil && paystack.IsDuplicateReference(err) && !opened.Created && !retried(ctx) {
		// Paystack has the reference: an earlier call initialized it and
		// could not record the answer, so nobody has its checkout. Leave
		// it behind and open the next attempt.
		s.logger.WarnContext(ctx, "payment reference initialized before without a recorded checkout; opening the next attempt", "reference", p.Reference)
		if _, err := s.store.MarkUnpaid(ctx, p.Reference, ticketing.PaymentAbandoned, ticketing.Charge{GatewayResponse: "checkout lost"}); err != nil {
			return nil, err
		}
		return s.StartPayment(context.WithValue(ctx, retriedKey{}, true), bookingID, idempotencyKey)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "initializing a payment", "reference", p.Reference, "error", err.Error())
		// The attempt stays open without a checkout; the next call
		// initializes it again.
		return nil, ticketing.Errorf(ticketing.KindUnavailable, ticketing.CodePaymentProvider, "the payment provider is unavailable; try again")
	}
	if err := s.store.SetCheckout(ctx, p.ID, auth.AuthorizationURL, auth.AccessCode); err != nil {
		return nil, err
	}
	s.metrics.PaymentsInitialized.Inc()
	// The first checkout of the attempt is new to the buyer, even when an
	// earlier call recorded the attempt and could not reach Paystack.
	return &ticketing.Checkout{AuthorizationURL: auth.AuthorizationURL, AccessCode: auth.AccessCode, Reference: p.Reference, Created: true}, nil
}

type retriedKey struct{}

// retried reports whether StartPayment already left an attempt behind in
// this call.
func retried(ctx context.Context) bool { return ctx.Value(retriedKey{}) != nil }

// ownerFilter is the user whose bookings the actor may pay: themselves.
// Staff and the system may act on any.
func ownerFilter(ctx context.Context) string {
	a, _ := ticketing.ActorFromContext(ctx)
	if a.Role == ticketing.RoleSystem {
		return ""
	}
	return a.UserID
}

// chargeOf is what a Paystack transaction says, for the store.
func chargeOf(t *paystack.Transaction) ticketing.Charge {
	return ticketing.Charge{Reference: t.Reference, Status: t.Status, PaystackID: t.ID, Amount: t.Amount,
		Currency: t.Currency, GatewayResponse: t.GatewayResponse, Channel: t.Channel, PaidAt: t.PaidAt}
}

// VerifyPayment implements ticketing.PaymentService.
func (s *Service) VerifyPayment(ctx context.Context, reference string) (*ticketing.Payment, *ticketing.Booking, error) {
	if _, _, ok := ticketing.ParseReference(reference); !ok {
		return nil, nil, ticketing.NotFound("payment")
	}
	p, err := s.store.PaymentByReference(ctx, reference)
	if err != nil {
		return nil, nil, err
	}
	if p.Status == ticketing.PaymentSuccess || p.Status == ticketing.PaymentFailed || p.Status == ticketing.PaymentReversed {
		return p, nil, nil // final: verified before
	}
	t, err := s.gateway.Verify(ctx, reference)
	switch {
	case paystack.IsNotFound(err):
		// Never initialized at Paystack (the initialize failed): nobody
		// can pay it.
		p, err := s.store.MarkUnpaid(ctx, reference, ticketing.PaymentAbandoned, ticketing.Charge{GatewayResponse: "unknown to Paystack"})
		return p, nil, err
	case err != nil:
		return p, nil, &ticketing.ErrNotFinal{Status: "unreachable: " + err.Error()}
	}
	c := chargeOf(t)
	switch t.Status {
	case paystack.StatusSuccess:
		return s.settle(ctx, reference, c)
	case paystack.StatusFailed, paystack.StatusReversed:
		p, err := s.store.MarkUnpaid(ctx, reference, ticketing.PaymentFailed, c)
		s.metrics.Payments.WithLabelValues("failed").Inc()
		return p, nil, err
	case paystack.StatusAbandoned:
		// The buyer left the checkout. Paystack may still see them pay
		// later (its webhook then brings us back here); meanwhile the
		// booking may get a new attempt.
		p, err := s.store.MarkUnpaid(ctx, reference, ticketing.PaymentAbandoned, c)
		return p, nil, err
	}
	return p, nil, &ticketing.ErrNotFinal{Status: t.Status}
}

// settle applies a successful charge and then makes Redis agree.
func (s *Service) settle(ctx context.Context, reference string, c ticketing.Charge) (*ticketing.Payment, *ticketing.Booking, error) {
	st, err := s.store.Settle(ctx, reference, c, postgres.SettleNormal)
	if err != nil {
		return nil, nil, err
	}
	// What follows the commit must happen even if the caller gives up
	// (a callback's deadline): Postgres says sold, Redis must agree.
	ctx = context.WithoutCancel(ctx)
	tenantID := ticketing.TenantFromContext(ctx).ID
	ev := inventory.Event{TenantID: tenantID, EventID: st.Booking.EventID}
	var tookHold bool
	if st.NeedHold {
		// Paid after the hold ran out: take the tickets again, all or
		// nothing, under the booking's own id.
		st, tookHold, err = s.settleLate(ctx, reference, c, ev, st.Booking)
		if err != nil {
			return nil, nil, err
		}
	}
	b := st.Booking
	switch {
	case st.AlreadySettled:
		return st.Payment, b, nil
	case st.Confirmed:
		if ok, err := s.inventory.Confirm(ctx, ev, b.ID); err != nil || !ok {
			// Redis no longer has the hold (it expired there first, or
			// Redis lost it): rebuilt from Postgres, where it is sold.
			s.logger.WarnContext(ctx, "confirming a hold that Redis no longer has; rebuilding the event's inventory", "booking", b.ID, "error", errString(err))
			if err := s.inventory.Drop(ctx, ev); err != nil {
				s.logger.ErrorContext(ctx, "dropping inventory after a lost hold", "booking", b.ID, "error", err.Error())
			}
		}
		s.metrics.Payments.WithLabelValues("confirmed").Inc()
	default:
		if tookHold || st.Outcome == ticketing.CodeAmountMismatch {
			s.release(ctx, ev, b.ID)
		}
		s.metrics.Payments.WithLabelValues(outcomeLabel(st.Outcome)).Inc()
		s.logger.WarnContext(ctx, "a successful charge did not confirm its booking", "reference", reference,
			"booking", b.ID, "outcome", st.Outcome, "amount", c.Amount, "currency", c.Currency)
	}
	if st.RefundID != "" {
		s.metrics.RefundsQueued.Inc()
		if err := s.queue.EnqueueRefund(ctx, tenantID, st.RefundID); err != nil {
			// The reconciler finds queued refunds whose task was lost.
			s.logger.ErrorContext(ctx, "enqueueing a refund", "refund", st.RefundID, "error", err.Error())
		}
	}
	return st.Payment, b, nil
}

// settleLate holds a late payment's tickets again and settles with what the
// hold found; tookHold reports whether Redis holds them now.
func (s *Service) settleLate(ctx context.Context, reference string, c ticketing.Charge, ev inventory.Event, b *ticketing.Booking) (*postgres.Settlement, bool, error) {
	h := inventory.Hold{ID: b.ID, ExpiresAt: time.Now().Add(s.cfg.LateHold)}
	for _, it := range b.Items {
		if len(it.SeatIDs) > 0 {
			h.Seats = append(h.Seats, it.SeatIDs...)
		} else {
			h.Items = append(h.Items, inventory.Item{TicketTypeID: it.TicketTypeID, Quantity: it.Quantity})
		}
	}
	mode := postgres.SettleLateHeld
	err := s.inventory.Hold(ctx, ev, h)
	var u *inventory.Unavailable
	switch {
	case errors.As(err, &u):
		mode = postgres.SettleLateSoldOut
	case err != nil:
		return nil, false, &ticketing.ErrNotFinal{Status: "inventory unavailable: " + err.Error()}
	}
	st, serr := s.store.Settle(ctx, reference, c, mode)
	if serr != nil {
		if mode == postgres.SettleLateHeld {
			s.release(ctx, ev, b.ID)
		}
		return nil, false, serr
	}
	return st, mode == postgres.SettleLateHeld && !st.AlreadySettled, nil
}

func (s *Service) release(ctx context.Context, ev inventory.Event, holdID string) {
	if _, err := s.inventory.Release(ctx, ev, holdID); err != nil {
		s.logger.WarnContext(ctx, "releasing a hold", "hold", holdID, "error", err.Error())
	}
}

func outcomeLabel(outcome string) string {
	switch outcome {
	case ticketing.CodeAlreadyPaid:
		return "already_paid"
	case ticketing.CodeAmountMismatch:
		return "amount_mismatch"
	case ticketing.CodeLatePaymentSoldOut:
		return "late_sold_out"
	case ticketing.CodeBookingClosed:
		return "booking_closed"
	}
	return "other"
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Refund asks Paystack to refund a refund owed, once: a refund Paystack
// already accepted is not asked again.
func (s *Service) Refund(ctx context.Context, refundID string) error {
	r, err := s.store.FindRefund(ctx, refundID)
	if err != nil {
		return err
	}
	if r.Status != "queued" && r.Status != "failed" {
		return nil
	}
	pr, err := s.gateway.Refund(ctx, paystack.RefundRequest{Transaction: r.Reference, Amount: r.Amount, Currency: r.Currency,
		MerchantNote: "ticketd: " + r.Reason + " (booking " + r.BookingID + ")"})
	if err != nil {
		_ = s.store.UpdateRefund(ctx, refundID, r.Status, 0, err.Error())
		return fmt.Errorf("payment: refund %s: %w", refundID, err)
	}
	status := pr.Status
	switch status {
	case paystack.RefundPending, paystack.RefundProcessing, paystack.RefundProcessed, paystack.RefundFailed:
	default:
		status = "pending"
	}
	return s.store.UpdateRefund(ctx, refundID, status, pr.ID, "")
}

// VerifyDue verifies the open attempts of the tenant's bookings whose hold
// ran out, so that a buyer who paid is confirmed rather than expired. It
// returns how many it verified; attempts Paystack could not answer for are
// left to the payment's own verification task.
func (s *Service) VerifyDue(ctx context.Context) (int, error) {
	refs, err := s.store.DueReferences(ctx, 100)
	if err != nil {
		return 0, err
	}
	return s.verifyAll(ctx, refs), nil
}

// Reconcile verifies the tenant's open attempts older than age (a webhook
// may never come, and a buyer may never come back from the checkout), and
// enqueues again the refunds still owed after age.
func (s *Service) Reconcile(ctx context.Context, age time.Duration) (int, error) {
	refs, err := s.store.StaleReferences(ctx, age, 200)
	if err != nil {
		return 0, err
	}
	n := s.verifyAll(ctx, refs)
	refunds, err := s.store.OwedRefunds(ctx, age, 200)
	if err != nil {
		return n, err
	}
	tenantID := ticketing.TenantFromContext(ctx).ID
	var errs []error
	for _, id := range refunds {
		errs = append(errs, s.queue.EnqueueRefund(ctx, tenantID, id))
	}
	return n, errors.Join(errs...)
}

func (s *Service) verifyAll(ctx context.Context, refs []string) int {
	n := 0
	for _, ref := range refs {
		if _, _, err := s.VerifyPayment(ctx, ref); err != nil {
			var nf *ticketing.ErrNotFinal
			if !errors.As(err, &nf) {
				s.logger.WarnContext(ctx, "verifying a payment", "reference", ref, "error", err.Error())
			}
			continue
		}
		n++
	}
	return n
}

// RecentCharges lists the successful Paystack charges since from with a
// reference of this platform, page by page: charges whose webhook never
// reached us are among them.
func (s *Service) RecentCharges(ctx context.Context, from time.Time) ([]string, error) {
	var refs []string
	for page := 1; page <= 20; page++ {
		txs, meta, err := s.gateway.ListTransactions(ctx, paystack.ListOptions{From: from, Status: paystack.StatusSuccess, PerPage: 100, Page: page})
		if err != nil {
			return refs, err
		}
		for _, t := range txs {
			if _, _, ok := ticketing.ParseReference(t.Reference); ok {
				refs = append(refs, t.Reference)
			}
		}
		if meta == nil || page >= meta.PageCount || len(txs) == 0 {
			return refs, nil
		}
	}
	return refs, nil
}

// FindPayments implements ticketing.PaymentService.
func (s *Service) FindPayments(ctx context.Context, f ticketing.PaymentFilter) ([]*ticketing.Payment, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	return s.store.FindPayments(ctx, f)
}

// ReviewBooking implements ticketing.PaymentService.
func (s *Service) ReviewBooking(ctx context.Context, bookingID, note string) (*ticketing.Booking, error) {
	if !ticketing.ValidID(bookingID) {
		return nil, ticketing.NotFound("booking")
	}
	var p ticketing.Problems
	p.Addf(note == "" || len(note) > 1000, "note must be 1 to 1000 characters")
	if err := p.Err(); err != nil {
		return nil, err
	}
	b, err := s.store.ReviewBooking(ctx, bookingID, note)
	if err != nil {
		return nil, err
	}
	// A booking under review holds nothing; a confirmed one keeps its
	// tickets (Release of a confirmed hold does nothing).
	s.release(ctx, inventory.Event{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: b.EventID}, b.ID)
	return b, nil
}

// StorefrontURL returns where a browser goes after paying: base with the
// booking and the payment's status, or "" without a base.
func StorefrontURL(base, bookingID, status string) string {
	if base == "" {
		return ""
	}
	return base + "/bookings/" + url.PathEscape(bookingID) + "?payment=" + url.QueryEscape(status)
}
