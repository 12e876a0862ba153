// Package payment takes payments for bookings through Paystack. It opens
// attempts (Paystack initialize), and verifies them: it never trusts a
// redirect or a webhook, only what Paystack's verify endpoint answers, and
// applies a successful charge once, in one Postgres transaction
// (ticketing.PaymentStore.Settle), before turning the Redis hold into sold
// tickets. A charge that cannot become tickets (paid twice, paid after the
// hold ran out and the tickets sold, paid for a closed booking) is refunded
// in full; one whose amount or currency differ puts the booking under review.
// Organizer staff refund all or part of a confirmed booking (refund.go).
// It implements ticketing.PaymentService and ticketing.RefundService.
package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Gateway is Paystack (paystack.Client).
type Gateway interface {
	Initialize(ctx context.Context, req paystack.InitializeRequest) (*paystack.Authorization, error)
	Verify(ctx context.Context, reference string) (*paystack.Transaction, error)
	ListTransactions(ctx context.Context, opts paystack.ListOptions) ([]paystack.Transaction, *paystack.Meta, error)
	Refund(ctx context.Context, req paystack.RefundRequest) (*paystack.Refund, error)
	FetchRefund(ctx context.Context, id string) (*paystack.Refund, error)
}

// Store is the Postgres side (ticketing.PaymentStore).
type Store interface {
	OpenPayment(ctx context.Context, bookingID, userID, idempotencyKey string, claimFor time.Duration) (*ticketing.OpenedPayment, error)
	SetCheckout(ctx context.Context, paymentID, claim, authorizationURL, accessCode string) (bool, error)
	ReleaseClaim(ctx context.Context, paymentID, claim string) error
	EndClaimed(ctx context.Context, paymentID, claim string, status ticketing.PaymentStatus, why string) (bool, error)
	PaymentByReference(ctx context.Context, reference string) (*ticketing.Payment, error)
	TakeCheck(ctx context.Context, paymentID string, every time.Duration) (*time.Time, error)
	MarkUnpaid(ctx context.Context, reference string, status ticketing.PaymentStatus, c ticketing.Charge) (*ticketing.Payment, bool, error)
	AbandonUnknown(ctx context.Context, reference string) (*ticketing.Payment, bool, error)
	RecordCheck(ctx context.Context, paymentID, gatewayResponse string) error
	Settle(ctx context.Context, reference string, c ticketing.Charge, mode ticketing.SettleMode, lateHold string) (*ticketing.Settlement, error)
	MarkInventorySynced(ctx context.Context, reference string) error
	UnsyncedReferences(ctx context.Context, age time.Duration, limit int) ([]string, error)
	RequestRefund(ctx context.Context, n ticketing.NewRefund, requestedBy string) (*ticketing.RefundRequest, error)
	RetryRefund(ctx context.Context, id string) (*ticketing.RefundRequest, error)
	RefundCancelledEvent(ctx context.Context, eventID string, limit int) ([]*ticketing.Refund, []string, error)
	CancelledEventsToRefund(ctx context.Context, limit int) ([]string, error)
	EventRefundProgress(ctx context.Context, eventID string) (*ticketing.EventRefundProgress, error)
	CancelPaidBooking(ctx context.Context, bookingID, userID string, now time.Time) (*ticketing.RefundRequest, error)
	FindRefund(ctx context.Context, id string) (*ticketing.Refund, error)
	FindRefunds(ctx context.Context, f ticketing.RefundFilter, ownerID string) ([]*ticketing.Refund, string, error)
	UpdateRefund(ctx context.Context, id string, attempt int, status ticketing.RefundStatus, paystackID uint64, lastError string) (bool, ticketing.RefundKind, error)
	FindPayments(ctx context.Context, f ticketing.PaymentFilter) ([]*ticketing.Payment, string, error)
	StaleReferences(ctx context.Context, age time.Duration, limit int) ([]string, error)
	DueReferences(ctx context.Context, limit int) ([]string, error)
	OwedRefunds(ctx context.Context, age time.Duration, limit int) ([]string, error)
	RefundsInProgress(ctx context.Context, age time.Duration, limit int) ([]ticketing.RefundInProgress, error)
	RefundsInProgressOf(ctx context.Context, reference string) ([]ticketing.RefundInProgress, error)
	ReviewBooking(ctx context.Context, id, note string) (*ticketing.Booking, error)
	ResolveReview(ctx context.Context, r ticketing.ResolveReview, resolvedBy string) (*ticketing.Resolution, error)
}

// Inventory is the Redis side (inventory.Store).
type Inventory interface {
	Hold(ctx context.Context, ev inventory.Event, h inventory.Hold) error
	Confirm(ctx context.Context, ev inventory.Event, holdID string) (bool, error)
	Release(ctx context.Context, ev inventory.Event, holdID string) (bool, error)
	Drop(ctx context.Context, ev inventory.Event) error
}

// Queue enqueues the refunds owed and the buyers' mails (the asynq client).
type Queue interface {
	EnqueueRefund(ctx context.Context, tenantID, refundID string) error
	EnqueueMail(ctx context.Context, tenantID string, kind ticketing.MailKind, bookingID string) error
}

// Config configures a Service.
type Config struct {
	// PublicURL is the external base URL of the API: Paystack redirects
	// buyers to PublicURL/v1/payments/callback.
	PublicURL string
	// LateHold is how long a late payment's tickets are held while the
	// settlement is written.
	LateHold time.Duration
	// StartWait is how long a payment start waits for the checkout another
	// request is initializing before it answers PAYMENT_IN_PROGRESS (20 s
	// when 0, within the server's write timeout).
	StartWait time.Duration
	// RecheckAfter is how soon an unsettled attempt may be asked about
	// again (2 s when 0): Paystack's rate limit is shared by every
	// organizer, and a redirect can be reloaded at will.
	RecheckAfter time.Duration
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

var (
	_ ticketing.PaymentService = (*Service)(nil)
	_ ticketing.RefundService  = (*Service)(nil)
)

// New returns a Service that counts what it does in m.
func New(gateway Gateway, store Store, inv Inventory, queue Queue, logger *slog.Logger, m *telemetry.Metrics, cfg Config) *Service {
	if cfg.LateHold <= 0 {
		cfg.LateHold = 2 * time.Minute
	}
	if cfg.StartWait <= 0 {
		cfg.StartWait = 20 * time.Second
	}
	if cfg.RecheckAfter <= 0 {
		cfg.RecheckAfter = 2 * time.Second
	}
	return &Service{gateway: gateway, store: store, inventory: inv, queue: queue, logger: logger, metrics: m, cfg: cfg}
}

// callbackURL is where Paystack sends the buyer after paying.
func (s *Service) callbackURL() string { return s.cfg.PublicURL + "/v1/payments/callback" }

// Bounds of starting a payment. Only the caller holding an attempt's claim
// calls Paystack's initialize (within initTimeout); the claim lapses after
// claimFor, so a holder that crashed delays the next start no longer than
// that. Concurrent callers wait for its checkout up to Config.StartWait,
// polling from startPoll, twice as long each time up to maxStartPoll, so a
// crowd of waiters costs Postgres little.
const (
	initTimeout = 15 * time.Second
	claimFor    = 30 * time.Second
	// storeTimeout bounds recording what Paystack answered, apart from the
	// time Paystack took; reuseTimeout bounds asking Paystack whether a
	// checkout handed out before can still be paid.
	storeTimeout = 10 * time.Second
	reuseTimeout = 5 * time.Second
	startPoll    = 25 * time.Millisecond
	maxStartPoll = 400 * time.Millisecond
	// startRounds bounds how many attempts one start may open or end (a
	// lost checkout, a declined one).
	startRounds = 4
)

// errAgain sends StartPayment round again: the attempt it found ended or
// changed hands.
var errAgain = errors.New("payment: start again")

// StartPayment implements ticketing.PaymentService. Every concurrent call
// for one booking gets the same checkout: one of them initializes the
// attempt at Paystack, the others wait for its checkout (or, past
// Config.StartWait, get a 409 PAYMENT_IN_PROGRESS). A checkout that was handed out
// before is handed out again while Paystack says it can still be paid; once
// Paystack says it failed, a new attempt is opened.
func (s *Service) StartPayment(ctx context.Context, bookingID, idempotencyKey string) (*ticketing.Checkout, error) {
	if !ticketing.ValidID(bookingID) {
		return nil, ticketing.NotFound("booking")
	}
	if len(idempotencyKey) > 255 {
		return nil, ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, "Idempotency-Key must be at most 255 characters")
	}
	deadline := time.Now().Add(s.cfg.StartWait)
	for range startRounds {
		opened, err := s.store.OpenPayment(ctx, bookingID, ownerFilter(ctx), idempotencyKey, claimFor)
		if err != nil {
			return nil, err
		}
		p := opened.Payment
		var co *ticketing.Checkout
		switch {
		case p.Amount == 0:
			// Free tickets: nothing to charge, the booking is confirmed now.
			if _, _, err := s.settle(ctx, p.Reference, ticketing.Charge{Reference: p.Reference, Status: paystack.StatusSuccess,
				Currency: p.Currency, GatewayResponse: "free booking"}); err != nil {
				return nil, err
			}
			return &ticketing.Checkout{Reference: p.Reference, Created: opened.Created, Free: true}, nil
		case opened.Claim != "":
			co, err = s.initialize(ctx, opened)
		case p.AuthorizationURL != "":
			co, err = s.reuse(ctx, p)
		default:
			co, err = s.awaitCheckout(ctx, p.Reference, deadline)
		}
		if !errors.Is(err, errAgain) {
			return co, err
		}
	}
	return nil, errInProgress
}

var errInProgress = ticketing.Errorf(ticketing.KindConflict, ticketing.CodePaymentInProgress,
	"the payment of this booking is being started by another request; try again in a moment")

// initialize calls Paystack's initialize for the attempt whose claim the
// caller holds, and records the checkout. It runs to the end even if the
// caller goes away: a checkout Paystack made and nobody recorded is lost,
// and costs the buyer a new attempt.
func (s *Service) initialize(ctx context.Context, opened *ticketing.OpenedPayment) (*ticketing.Checkout, error) {
	base := context.WithoutCancel(ctx)
	p, claim := opened.Payment, opened.Claim
	tenant := ticketing.TenantFromContext(ctx)
	req := paystack.InitializeRequest{
		Email: opened.Email, Amount: p.Amount, Currency: p.Currency, Reference: p.Reference,
		CallbackURL: s.callbackURL(),
		Metadata:    map[string]any{"tenantId": tenant.ID, "bookingId": p.BookingID, "reference": p.Reference},
	}
	if tenant.PaystackSubaccount != "" {
		req.Subaccount = tenant.PaystackSubaccount
		fee := p.Amount * int64(tenant.PlatformFeeBps) / 10000
		req.TransactionCharge = &fee // also when 0: no fee, not the subaccount's default
	}
	pctx, cancel := context.WithTimeout(base, initTimeout)
	auth, err := s.gateway.Initialize(pctx, req)
	cancel()
	ctx, cancel = context.WithTimeout(base, storeTimeout)
	defer cancel()
	switch {
	case paystack.IsDuplicateReference(err):
		// An earlier initialize reached Paystack and its checkout was never
		// recorded (its caller crashed, or could not reach us again), so
		// nobody has it. Leave the attempt behind and open the next one.
		s.logger.WarnContext(ctx, "payment reference initialized before without a recorded checkout; opening the next attempt", "reference", p.Reference)
		return nil, s.endClaimed(ctx, p, claim, ticketing.PaymentAbandoned, "checkout lost")
	case paystack.IsRejected(err):
		s.logger.WarnContext(ctx, "Paystack refused to initialize a payment", "reference", p.Reference, "error", err.Error())
		if err := s.endClaimed(ctx, p, claim, ticketing.PaymentFailed, "initialize refused: "+err.Error()); !errors.Is(err, errAgain) {
			return nil, err
		}
		return nil, errRejected(paystackMessage(err))
	case err != nil:
		s.logger.WarnContext(ctx, "initializing a payment", "reference", p.Reference, "error", err.Error())
		// The attempt stays open without a checkout; the next call
		// initializes it again.
		if rerr := s.store.ReleaseClaim(ctx, p.ID, claim); rerr != nil {
			s.logger.WarnContext(ctx, "releasing a payment claim", "reference", p.Reference, "error", rerr.Error())
		}
		return nil, ticketing.Errorf(ticketing.KindUnavailable, ticketing.CodePaymentProvider, "the payment provider is unavailable; try again")
	}
	ok, err := s.store.SetCheckout(ctx, p.ID, claim, auth.AuthorizationURL, auth.AccessCode)
	if err != nil {
		return nil, err
	}
	if !ok {
		// Our claim lapsed and another caller took the attempt over: this
		// checkout is not the attempt's, and must not leave the server.
		return nil, errAgain
	}
	s.metrics.PaymentsInitialized.Inc()
	// The first checkout of the attempt is new to the buyer, even when an
	// earlier call recorded the attempt and could not reach Paystack.
	return &ticketing.Checkout{AuthorizationURL: auth.AuthorizationURL, AccessCode: auth.AccessCode, Reference: p.Reference, Created: true}, nil
}

// endClaimed ends an attempt nobody has the checkout of, and sends the
// start round again (with a new attempt).
func (s *Service) endClaimed(ctx context.Context, p *ticketing.Payment, claim string, status ticketing.PaymentStatus, why string) error {
	ok, err := s.store.EndClaimed(ctx, p.ID, claim, status, why)
	if err != nil {
		return err
	}
	if ok {
		s.metrics.Payments.WithLabelValues(string(status)).Inc()
	}
	return errAgain
}

// reuse hands out an attempt's checkout again, after asking Paystack whether
// it can still be paid, unless the checkout was recorded or Paystack
// answered moments ago (a burst of starts asks Paystack nothing). Whatever
// the question's outcome, the attempt is read again: another verification
// may have failed or settled it meanwhile.
func (s *Service) reuse(ctx context.Context, p *ticketing.Payment) (*ticketing.Checkout, error) {
	co := &ticketing.Checkout{AuthorizationURL: p.AuthorizationURL, AccessCode: p.AccessCode, Reference: p.Reference}
	if time.Since(p.UpdatedAt) < s.cfg.RecheckAfter {
		return co, nil
	}
	vctx, cancel := context.WithTimeout(ctx, reuseTimeout)
	_, _, err := s.VerifyPayment(vctx, p.Reference)
	cancel()
	var nf *ticketing.ErrNotFinal
	if err != nil && !errors.As(err, &nf) {
		s.logger.WarnContext(ctx, "verifying an open payment before handing it out again", "reference", p.Reference, "error", err.Error())
	}
	cur, err := s.store.PaymentByReference(ctx, p.Reference)
	switch {
	case err != nil:
		return nil, err
	case cur.Status != ticketing.PaymentInitialized:
		// Failed (a new attempt follows), or paid (the booking is no
		// longer pending, which the next round says).
		return nil, errAgain
	}
	return co, nil
}

// awaitCheckout waits for the checkout another caller is initializing.
func (s *Service) awaitCheckout(ctx context.Context, reference string, deadline time.Time) (*ticketing.Checkout, error) {
	for poll := startPoll; ; poll = min(2*poll, maxStartPoll) {
		p, err := s.store.PaymentByReference(ctx, reference)
		switch {
		case err != nil:
			return nil, err
		case p.Status == ticketing.PaymentFailed && p.AuthorizationURL == "":
			return nil, errRejected("") // the holder's initialize was refused
		case p.Status != ticketing.PaymentInitialized:
			return nil, errAgain // ended: the next round says what now
		case p.AuthorizationURL != "":
			return &ticketing.Checkout{AuthorizationURL: p.AuthorizationURL, AccessCode: p.AccessCode, Reference: p.Reference}, nil
		case !p.Initializing:
			return nil, errAgain // its claim lapsed or was released: take it over
		case time.Now().After(deadline):
			return nil, errInProgress
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// errRejected is the answer when Paystack refuses to initialize a payment,
// with its reason when known.
func errRejected(reason string) error {
	if reason == "" {
		return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodePaymentRejected, "the payment provider refused this payment")
	}
	return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodePaymentRejected, "the payment provider refused this payment: %s", reason)
}

// paystackMessage is Paystack's own words about a refusal, for the buyer.
func paystackMessage(err error) string {
	var e *paystack.APIError
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "refused"
}

// ownerFilter is the user whose bookings the actor may pay: themselves
// (staff too). Only the system acts on any booking.
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

// VerifyPayment implements ticketing.PaymentService. Only a settled
// attempt is final here: an unpaid one (open, failed or abandoned) is asked
// about again, since Paystack may still report a charge for it, and a
// charge is settled whatever the attempt's local state. Paystack is asked
// about one attempt at most once per Config.RecheckAfter, across every
// process: past that the answer is ErrNotFinal with RetryAt.
func (s *Service) VerifyPayment(ctx context.Context, reference string) (*ticketing.Payment, *ticketing.Booking, error) {
	if _, _, ok := ticketing.ParseReference(reference); !ok {
		return nil, nil, ticketing.NotFound("payment")
	}
	p, err := s.store.PaymentByReference(ctx, reference)
	if err != nil {
		return nil, nil, err
	}
	if p.Status.Settled() {
		// Verified before. A settlement whose Redis step did not happen (a
		// crash, Redis down) is finished now.
		if !p.InventorySynced {
			if err := s.syncInventory(ctx, p); err != nil {
				return p, nil, err
			}
		}
		return p, nil, nil
	}
	next, err := s.store.TakeCheck(ctx, p.ID, s.cfg.RecheckAfter)
	if err != nil {
		return p, nil, err
	}
	if next != nil {
		return p, nil, &ticketing.ErrNotFinal{Status: string(p.Status) + " (asked moments ago)", RetryAt: *next}
	}
	t, err := s.gateway.Verify(ctx, reference)
	switch {
	case paystack.IsNotFound(err) && p.AuthorizationURL == "":
		// Never initialized at Paystack: without a checkout nobody can pay
		// it. The store abandons it only if that still holds.
		p, changed, err := s.store.AbandonUnknown(ctx, reference)
		if err == nil && changed {
			s.metrics.Payments.WithLabelValues(string(ticketing.PaymentAbandoned)).Inc()
		}
		return p, nil, err
	case err != nil:
		return p, nil, &ticketing.ErrNotFinal{Status: "unreachable: " + err.Error()}
	}
	c := chargeOf(t)
	switch t.Status {
	case paystack.StatusSuccess:
		return s.settle(ctx, reference, c)
	case paystack.StatusFailed, paystack.StatusReversed:
		// The checkout is spent; a new start opens a new attempt.
		p, err := s.markUnpaid(ctx, reference, ticketing.PaymentFailed, c)
		return p, nil, err
	case paystack.StatusAbandoned:
		// Not paid yet. While the booking's hold runs the attempt stays
		// open (the buyer may come back to it); after, it is abandoned. A
		// later charge still reaches us: its webhook, or the reconciler's
		// list of charges, brings us back here.
		p, err := s.markUnpaid(ctx, reference, ticketing.PaymentAbandoned, c)
		return p, nil, err
	}
	if err := s.store.RecordCheck(ctx, p.ID, t.GatewayResponse); err != nil {
		return p, nil, err
	}
	return p, nil, &ticketing.ErrNotFinal{Status: t.Status}
}

// markUnpaid records an unpaid answer and counts the attempts it ended.
func (s *Service) markUnpaid(ctx context.Context, reference string, status ticketing.PaymentStatus, c ticketing.Charge) (*ticketing.Payment, error) {
	p, changed, err := s.store.MarkUnpaid(ctx, reference, status, c)
	if err == nil && changed {
		s.metrics.Payments.WithLabelValues(string(p.Status)).Inc()
	}
	return p, err
}

// verifyTimeout bounds one verification of a batch (expiry, reconciler).
const verifyTimeout = 15 * time.Second

// lateHoldNamespace derives the id of a late payment's hold from its
// reference: not the booking's id, which the expiry releases.
var lateHoldNamespace = uuid.MustParse("9a3c1f0e-4f7b-4a39-8d7e-2f1f6c2b8e55")

// settle applies a successful charge and then makes Redis agree.
func (s *Service) settle(ctx context.Context, reference string, c ticketing.Charge) (*ticketing.Payment, *ticketing.Booking, error) {
	st, err := s.store.Settle(ctx, reference, c, ticketing.SettleNormal, "")
	if err != nil {
		return nil, nil, err
	}
	// What follows the commit must happen even if the caller gives up
	// (a callback's deadline): Postgres says sold, Redis must agree.
	ctx = context.WithoutCancel(ctx)
	if st.NeedHold {
		// Paid after the hold ran out: take the tickets again, all or
		// nothing, under a hold of the payment's own.
		if st, err = s.settleLate(ctx, reference, c, st.Booking); err != nil {
			return nil, nil, err
		}
	}
	b := st.Booking
	switch {
	case st.AlreadySettled:
	case st.Confirmed:
		s.metrics.Payments.WithLabelValues("confirmed").Inc()
		// The settlement wrote the mail down; if this enqueue is lost, the
		// worker's sweep finds it unsent and enqueues it.
		if err := s.queue.EnqueueMail(ctx, ticketing.TenantFromContext(ctx).ID, ticketing.MailBookingConfirmed, b.ID); err != nil {
			s.logger.WarnContext(ctx, "enqueueing the confirmation mail failed; the sweep will", "booking", b.ID, "error", err.Error())
		}
	default:
		s.metrics.Payments.WithLabelValues(outcomeLabel(st.Outcome)).Inc()
		s.logger.WarnContext(ctx, "a successful charge did not confirm its booking", "reference", reference,
			"booking", b.ID, "outcome", st.Outcome, "amount", c.Amount, "currency", c.Currency)
	}
	if st.RefundID != "" {
		s.metrics.RefundsQueued.Inc()
		if err := s.queue.EnqueueRefund(ctx, ticketing.TenantFromContext(ctx).ID, st.RefundID); err != nil {
			// The reconciler finds refunds still owed.
			s.logger.ErrorContext(ctx, "enqueueing a refund", "refund", st.RefundID, "error", err.Error())
		}
	}
	if !st.Payment.InventorySynced {
		if err := s.syncInventory(ctx, st.Payment); err != nil {
			return st.Payment, b, err
		}
	}
	return st.Payment, b, nil
}

// syncInventory makes Redis follow a settlement, once it is committed: the
// hold of a confirmed booking becomes sold (if Redis no longer has it and
// the load that rebuilt the event did not count the sale, the event's
// inventory is rebuilt from Postgres, where it is sold), and the
// holds of a booking that was not confirmed are released. It can run again
// safely; an error leaves the payment unsynced for the next verification.
func (s *Service) syncInventory(ctx context.Context, p *ticketing.Payment) error {
	ev := inventory.Event{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: p.EventID}
	if p.Outcome == "" {
		ok, err := s.inventory.Confirm(ctx, ev, p.InventoryHold)
		if err != nil {
			return fmt.Errorf("payment: confirming hold %s: %w", p.InventoryHold, err)
		}
		if !ok {
			s.logger.WarnContext(ctx, "Redis no longer has the hold of a confirmed booking; rebuilding the event's inventory",
				"reference", p.Reference, "hold", p.InventoryHold)
			if err := s.inventory.Drop(ctx, ev); err != nil {
				return fmt.Errorf("payment: dropping inventory: %w", err)
			}
		}
	} else {
		for _, id := range []string{p.BookingID, p.InventoryHold} {
			if id == "" {
				continue
			}
			if _, err := s.inventory.Release(ctx, ev, id); err != nil {
				return fmt.Errorf("payment: releasing hold %s: %w", id, err)
			}
		}
	}
	if err := s.store.MarkInventorySynced(ctx, p.Reference); err != nil {
		return err
	}
	p.InventorySynced = true
	return nil
}

// settleLate holds a late payment's tickets again and settles with what the
// hold found.
func (s *Service) settleLate(ctx context.Context, reference string, c ticketing.Charge, b *ticketing.Booking) (*ticketing.Settlement, error) {
	ev := inventory.Event{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: b.EventID}
	// The tickets count for the buyer again, but a payment already made is
	// not refused for the buyer's limits.
	h := inventory.Hold{ID: uuid.NewSHA1(lateHoldNamespace, []byte(reference)).String(), ExpiresAt: time.Now().Add(s.cfg.LateHold),
		Buyer: b.UserID, Unlimited: true}
	for _, it := range b.Items {
		if len(it.SeatIDs) > 0 {
			h.Seats = append(h.Seats, it.SeatIDs...)
		} else {
			h.Items = append(h.Items, inventory.Item{TicketTypeID: it.TicketTypeID, Quantity: it.Quantity})
		}
	}
	mode := ticketing.SettleLateHeld
	err := s.inventory.Hold(ctx, ev, h)
	var u *inventory.Unavailable
	switch {
	case errors.As(err, &u):
		mode = ticketing.SettleLateSoldOut
	case err != nil:
		return nil, &ticketing.ErrNotFinal{Status: "inventory unavailable: " + err.Error()}
	}
	st, err := s.store.Settle(ctx, reference, c, mode, h.ID)
	if err != nil {
		if mode == ticketing.SettleLateHeld {
			s.release(ctx, ev, h.ID)
		}
		return nil, err
	}
	if mode == ticketing.SettleLateHeld && (st.AlreadySettled || st.NeedHold) {
		s.release(ctx, ev, h.ID) // someone else settled it meanwhile
	}
	return st, nil
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
// may never come, and a buyer may never come back from the checkout),
// finishes settlements whose Redis step did not happen, enqueues again the
// refunds still owed after age, and follows the refunds Paystack accepted
// until they are processed.
func (s *Service) Reconcile(ctx context.Context, age time.Duration) (int, error) {
	refs, err := s.store.StaleReferences(ctx, age, 200)
	if err != nil {
		return 0, err
	}
	unsynced, err := s.store.UnsyncedReferences(ctx, age, 200)
	if err != nil {
		return 0, err
	}
	n := s.verifyAll(ctx, append(refs, unsynced...))
	refunds, err := s.store.OwedRefunds(ctx, age, 200)
	if err != nil {
		return n, err
	}
	tenantID := ticketing.TenantFromContext(ctx).ID
	var errs []error
	for _, id := range refunds {
		errs = append(errs, s.queue.EnqueueRefund(ctx, tenantID, id))
	}
	errs = append(errs, s.followRefunds(ctx, age))
	return n, errors.Join(errs...)
}

func (s *Service) verifyAll(ctx context.Context, refs []string) int {
	n := 0
	for _, ref := range refs {
		// One slow answer must not hold up the rest (nor the expiry
		// that follows VerifyDue).
		vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
		_, _, err := s.VerifyPayment(vctx, ref)
		cancel()
		if err != nil {
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
		if len(txs) < 100 || (meta != nil && meta.PageCount > 0 && page >= meta.PageCount) {
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
	// Only a paid booking (confirmed, or under review already) is put
	// under review: it keeps its tickets, and Redis has nothing to follow.
	return s.store.ReviewBooking(ctx, bookingID, note)
}

// ResolveReview implements ticketing.PaymentService. The decision and the
// refunds it owes are committed first; then each refund is enqueued (one
// whose enqueue fails stays queued, and the reconciler enqueues it again),
// and a closed booking's places are put back on sale as a full refund's
// are.
func (s *Service) ResolveReview(ctx context.Context, r ticketing.ResolveReview) (*ticketing.Resolution, error) {
	if !ticketing.ValidID(r.BookingID) {
		return nil, ticketing.NotFound("booking")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	a, _ := ticketing.ActorFromContext(ctx)
	out, err := s.store.ResolveReview(ctx, r, a.UserID)
	if err != nil {
		return nil, err
	}
	b := out.Booking
	s.logger.InfoContext(ctx, "a booking taken out of review", "booking", b.ID, "decision", r.Decision, "status", b.Status,
		"refunds", len(out.Refunds))
	// Committed: what follows must not depend on the caller staying.
	ctx = context.WithoutCancel(ctx)
	for _, rf := range out.Refunds {
		s.metrics.RefundRequests.WithLabelValues(refundReview).Inc()
		if err := s.queue.EnqueueRefund(ctx, ticketing.TenantFromContext(ctx).ID, rf.ID); err != nil {
			s.logger.ErrorContext(ctx, "enqueueing a refund; the reconciler will", "refund", rf.ID, "error", err.Error())
		}
	}
	if out.Voided {
		s.voided(ctx, b.ID, b.EventID)
	}
	return out, nil
}

// StorefrontURL returns where a browser goes after paying: base with the
// booking and the payment's status, or "" without a base.
func StorefrontURL(base, bookingID, status string) string {
	if base == "" {
		return ""
	}
	return base + "/bookings/" + url.PathEscape(bookingID) + "?payment=" + url.QueryEscape(status)
}
