package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/payment"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Bounds of the synchronous verifications: the buyer's redirect waits a
// little for Paystack (a task verifies it anyway); an admin asking on
// purpose waits longer, within the server's write timeout.
const (
	callbackVerifyTimeout = 5 * time.Second
	adminVerifyTimeout    = 20 * time.Second
)

// callbackActor names the redirect from Paystack in audit rows.
const callbackActor = "payment-callback"

type checkoutResponse struct {
	AuthorizationURL string `json:"authorizationUrl"`
	AccessCode       string `json:"accessCode"`
	Reference        string `json:"reference"`
	// Free: the booking cost nothing and is confirmed already; there is
	// no checkout to send the buyer to.
	Free bool `json:"free,omitempty"`
}

// paymentResponse is a payment attempt for staff; the checkout's URL and
// access code are the buyer's and stay out of it.
type paymentResponse struct {
	ID              string     `json:"id"`
	BookingID       string     `json:"bookingId"`
	Attempt         int        `json:"attempt"`
	Reference       string     `json:"reference"`
	Amount          int64      `json:"amount"`
	Currency        string     `json:"currency"`
	Status          string     `json:"status"`
	PaystackID      *uint64    `json:"paystackId"`
	PaidAmount      *int64     `json:"paidAmount"`
	PaidCurrency    *string    `json:"paidCurrency"`
	GatewayResponse string     `json:"gatewayResponse"`
	Channel         string     `json:"channel"`
	Outcome         string     `json:"outcome"`
	PaidAt          *time.Time `json:"paidAt"`
	VerifiedAt      *time.Time `json:"verifiedAt"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
}

func toPaymentResponse(p *ticketing.Payment) paymentResponse {
	r := paymentResponse{ID: p.ID, BookingID: p.BookingID, Attempt: p.Attempt, Reference: p.Reference,
		Amount: p.Amount, Currency: p.Currency, Status: string(p.Status), GatewayResponse: p.GatewayResponse,
		Channel: p.Channel, Outcome: p.Outcome, PaidAt: utcPtr(p.PaidAt), VerifiedAt: utcPtr(p.VerifiedAt),
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
	if p.PaystackID != 0 {
		r.PaystackID = &p.PaystackID
	}
	// What was charged is known only once a successful charge is recorded.
	if p.PaidCurrency != "" {
		r.PaidAmount, r.PaidCurrency = &p.PaidAmount, &p.PaidCurrency
	}
	return r
}

func (s *Server) startPayment(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	co, err := s.deps.Payments.StartPayment(c.UserContext(), id, strings.Clone(c.Get(HeaderIdempotencyKey)))
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if co.Created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(checkoutResponse{AuthorizationURL: co.AuthorizationURL, AccessCode: co.AccessCode, Reference: co.Reference, Free: co.Free})
}

type paymentReturnResponse struct {
	Reference     string `json:"reference"`
	PaymentStatus string `json:"paymentStatus"`
	BookingID     string `json:"bookingId"`
	BookingStatus string `json:"bookingStatus"`
}

// paymentCallback is where Paystack sends the buyer back. The query proves
// nothing: the reference only names what to ask Paystack about, and the
// answer shown is what verification made of it.
func (s *Server) paymentCallback(c *fiber.Ctx) error {
	ref := c.Query("reference")
	if ref == "" {
		ref = c.Query("trxref")
	}
	if ref == "" {
		return invalid("reference is required")
	}
	ref = strings.Clone(ref)
	c.Locals(localReference, ref)
	bookingID, _, ok := ticketing.ParseReference(ref)
	if !ok {
		return invalid("reference is not a payment reference of this platform")
	}
	tenantID, err := s.deps.PaymentInbox.TenantOfReference(c.UserContext(), ref)
	if err != nil {
		return err
	}
	tagTenant(c.UserContext(), tenantID)
	ctx := ticketing.WithActor(ticketing.WithTenant(c.UserContext(), &ticketing.Tenant{ID: tenantID, Status: ticketing.TenantActive}),
		ticketing.SystemActor(callbackActor))
	if err := s.deps.PaymentQueue.EnqueueVerify(ctx, tenantID, ref); err != nil {
		// The synchronous attempt below and the reconciler still verify it.
		s.deps.Logger.WarnContext(ctx, "enqueueing a payment verification", "reference", ref, "error", err.Error())
	}
	p := s.verifyOnce(ctx, ref)
	if p == nil {
		if p, err = s.paymentOf(ctx, ref); err != nil {
			return err
		}
	}
	b, err := s.deps.Bookings.FindBookingByID(ctx, bookingID)
	if err != nil {
		return err
	}
	out := paymentReturnResponse{Reference: ref, PaymentStatus: string(p.Status), BookingID: b.ID, BookingStatus: toBookingResponse(b).Status}
	if c.Accepts(fiber.MIMEApplicationJSON, fiber.MIMETextHTML) == fiber.MIMETextHTML {
		// A browser: back to the shop, the organizer's own unless
		// STOREFRONT_URL names another.
		base := s.cfg.StorefrontURL
		if base == "" {
			t, err := s.deps.Tenants.FindTenantByID(ctx, tenantID)
			if err != nil {
				return err
			}
			base = s.storefrontURL(c, t)
		}
		return c.Redirect(payment.StorefrontURL(base, out.BookingID, out.PaymentStatus), fiber.StatusSeeOther)
	}
	return c.JSON(out)
}

// verifyOnce asks Paystack about ref, briefly. When Paystack was asked
// about it moments ago (by the webhook's task, say, just before the buyer
// paid) it waits until it may ask again, so the buyer sees what Paystack
// says now rather than what it said then. It returns the payment as
// verified, or nil when that did not work out in time: the payment then
// stays pending for its verification task.
func (s *Server) verifyOnce(ctx context.Context, ref string) *ticketing.Payment {
	vctx, cancel := context.WithTimeout(ctx, callbackVerifyTimeout)
	defer cancel()
	for {
		p, _, err := s.deps.Payments.VerifyPayment(vctx, ref)
		var nf *ticketing.ErrNotFinal
		if errors.As(err, &nf) && !nf.RetryAt.IsZero() {
			t := time.NewTimer(time.Until(nf.RetryAt))
			select {
			case <-t.C:
				continue
			case <-vctx.Done():
				t.Stop()
			}
		}
		if err != nil {
			s.deps.Logger.WarnContext(ctx, "payment not verified on the buyer's return", "reference", ref, "error", err.Error())
			return nil
		}
		return p
	}
}

// paymentOf returns the payment with reference ref as it stands.
func (s *Server) paymentOf(ctx context.Context, ref string) (*ticketing.Payment, error) {
	found, _, err := s.deps.Payments.FindPayments(ctx, ticketing.PaymentFilter{Reference: ref, Page: ticketing.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, ticketing.NotFound("payment")
	}
	return found[0], nil
}

var (
	errWebhookSignature = ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeUnauthorized,
		"the x-paystack-signature header is missing or does not sign this body")
	errWebhookSource = ticketing.Errorf(ticketing.KindForbidden, ticketing.CodeForbidden,
		"webhooks are not accepted from this address")
)

// webhookData is what a webhook's data says of the payment it is about:
// charge events name the reference, refund events the transaction's.
type webhookData struct {
	Reference            string `json:"reference"`
	TransactionReference string `json:"transaction_reference"`
}

// paystackWebhook takes Paystack's webhooks: it checks where they come from
// and their signature, stores each body once, and enqueues the verification
// of the charge a charge event names, or the following of the refunds of
// the charge a refund event names. It never acts on the body itself: only
// Paystack's verify endpoint settles a payment, and only its refund endpoint
// says how a refund is going.
func (s *Server) paystackWebhook() fiber.Handler {
	allowed := trustedProxies(s.cfg.PaystackWebhookIPs)
	return func(c *fiber.Ctx) error {
		results := s.deps.Metrics.Webhooks
		if len(allowed) > 0 && !inPrefixes(s.clientIP(c), allowed) {
			results.WithLabelValues("forbidden_ip").Inc()
			return errWebhookSource
		}
		// The raw bytes as received: c.Body() would decode a compressed
		// body, which is not what Paystack signed.
		body := c.Request().Body()
		ev, err := paystack.ParseEvent(s.cfg.PaystackSecretKey, body, c.Get(paystack.SignatureHeader))
		if errors.Is(err, paystack.ErrBadSignature) {
			results.WithLabelValues("bad_signature").Inc()
			return errWebhookSignature
		}
		if err != nil {
			return invalid("the body is not a Paystack event")
		}
		var data webhookData
		_ = json.Unmarshal(ev.Data, &data) // an event without a reference is still stored
		ref := data.Reference
		if ref == "" {
			ref = data.TransactionReference
		}
		c.Locals(localReference, ref)
		ctx := c.UserContext()
		sum := sha256.Sum256(body)
		first, err := s.deps.PaymentInbox.RecordWebhook(ctx, hex.EncodeToString(sum[:]), ev.Name, ref, storedEvent(ev))
		if err != nil {
			return err
		}
		if first {
			results.WithLabelValues("accepted").Inc()
		} else {
			results.WithLabelValues("duplicate").Inc()
		}
		// A redelivery enqueues again: the task id makes it one task, and
		// it heals an earlier delivery whose enqueue failed.
		if _, _, ours := ticketing.ParseReference(ref); ours {
			var err error
			switch {
			case strings.HasPrefix(ev.Name, "charge."):
				err = s.enqueueFor(ctx, ref, s.deps.PaymentQueue.EnqueueVerify)
			case strings.HasPrefix(ev.Name, "refund."):
				key := hex.EncodeToString(sum[:8])
				err = s.enqueueFor(ctx, ref, func(ctx context.Context, tenantID, ref string) error {
					return s.deps.PaymentQueue.EnqueueFollowRefunds(ctx, tenantID, ref, key)
				})
			}
			if err != nil {
				return err // not 200: Paystack delivers it again
			}
		}
		return c.JSON(fiber.Map{"status": "ok"})
	}
}

// storedEvent is what is kept of a webhook: the event without the buyer's
// personal and card data (customer, authorization, IP address, metadata),
// which the verification does not need and the platform table must not
// keep.
func storedEvent(ev *paystack.Event) []byte {
	var data map[string]json.RawMessage
	if json.Unmarshal(ev.Data, &data) != nil {
		data = map[string]json.RawMessage{}
	}
	for _, k := range []string{"customer", "authorization", "ip_address", "metadata", "log", "plan", "subaccount", "source"} {
		delete(data, k)
	}
	b, err := json.Marshal(map[string]any{"event": ev.Name, "data": data})
	if err != nil {
		return []byte(`{}`)
	}
	return b
}

// enqueueFor enqueues a task about one of our references in its tenant; a
// reference no tenant knows (another environment's, say) is only stored.
func (s *Server) enqueueFor(ctx context.Context, ref string, enqueue func(ctx context.Context, tenantID, ref string) error) error {
	tenantID, err := s.deps.PaymentInbox.TenantOfReference(ctx, ref)
	if ticketing.ErrorKind(err) == ticketing.KindNotFound {
		s.deps.Logger.InfoContext(ctx, "webhook about an unknown payment reference", "reference", ref)
		return nil
	}
	if err != nil {
		return err
	}
	tagTenant(ctx, tenantID)
	if err := enqueue(ctx, tenantID, ref); err != nil {
		return ticketing.Internal(err)
	}
	return nil
}

// inPrefixes reports whether ip lies in one of prefixes.
func inPrefixes(ip string, prefixes []netip.Prefix) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

func (s *Server) listPayments(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := ticketing.PaymentFilter{Page: page, Status: ticketing.PaymentStatus(strings.Clone(c.Query("status"))),
		BookingID: strings.Clone(c.Query("bookingId")), Reference: strings.Clone(c.Query("reference"))}
	payments, next, err := s.deps.Payments.FindPayments(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(listOf(payments, toPaymentResponse, next))
}

type verificationResponse struct {
	// Final is false when Paystack had no final answer, could not be asked
	// or says the attempt is not paid yet: the payment is shown as it
	// stands, and asking again is safe.
	Final   bool            `json:"final"`
	Payment paymentResponse `json:"payment"`
	Booking bookingResponse `json:"booking"`
}

func (s *Server) verifyPayment(c *fiber.Ctx) error {
	ref := strings.Clone(c.Params("reference"))
	ctx, cancel := context.WithTimeout(c.UserContext(), adminVerifyTimeout)
	defer cancel()
	_, _, err := s.deps.Payments.VerifyPayment(ctx, ref)
	var notFinal *ticketing.ErrNotFinal
	switch {
	case errors.As(err, &notFinal):
		s.deps.Logger.InfoContext(ctx, "payment not final", "reference", ref, "status", notFinal.Status)
	case err != nil:
		return err
	}
	// Both read back as stored, on the request's own context (the
	// verification's may have run out).
	ctx = c.UserContext()
	p, err := s.paymentOf(ctx, ref)
	if err != nil {
		return err
	}
	b, err := s.deps.Bookings.FindBookingByID(ctx, p.BookingID)
	if err != nil {
		return err
	}
	// An attempt still open (not paid yet, its booking's hold running) is
	// not final either, though Paystack answered.
	final := notFinal == nil && p.Status != ticketing.PaymentInitialized
	return c.JSON(verificationResponse{Final: final, Payment: toPaymentResponse(p), Booking: toBookingResponse(b)})
}

type reviewRequest struct {
	Note string `json:"note"`
}

func (s *Server) reviewBooking(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	var req reviewRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	b, err := s.deps.Payments.ReviewBooking(c.UserContext(), id, req.Note)
	if err != nil {
		return err
	}
	return c.JSON(toBookingResponse(b))
}

type resolveRequest struct {
	Decision string `json:"decision"`
	Note     string `json:"note"`
}

// resolutionResponse is what a decision about a booking under review did:
// the booking afterwards and the refunds the decision queued.
type resolutionResponse struct {
	Booking bookingResponse  `json:"booking"`
	Refunds []refundResponse `json:"refunds"`
}

// resolveReview takes a booking out of review: restored (confirmed, its
// tickets as they were) or closed (refunded or cancelled, everything
// charged and not refunded yet going back).
func (s *Server) resolveReview(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	var req resolveRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	out, err := s.deps.Payments.ResolveReview(c.UserContext(), ticketing.ResolveReview{BookingID: id,
		Decision: ticketing.ReviewDecision(req.Decision), Note: req.Note})
	if err != nil {
		return err
	}
	res := resolutionResponse{Booking: toStaffBookingResponse(out.Booking), Refunds: []refundResponse{}}
	for _, r := range out.Refunds {
		res.Refunds = append(res.Refunds, toRefundResponse(r))
	}
	return c.JSON(res)
}
