package httpapi

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// HeaderIdempotencyKey makes a retried booking request return the first
// booking instead of holding tickets twice.
const HeaderIdempotencyKey = "Idempotency-Key"

type bookingRequest struct {
	EventID string `json:"eventId"`
	Items   []struct {
		TicketTypeID string `json:"ticketTypeId"`
		Quantity     int    `json:"quantity"`
	} `json:"items"`
	Seats []string `json:"seats"`
	// The original ticket app's shorthand for one ticket type.
	TicketTypeID string `json:"ticketTypeId"`
	Quantity     int    `json:"quantity"`
}

type bookingItemResponse struct {
	TicketTypeID   string   `json:"ticketTypeId"`
	TicketTypeName string   `json:"ticketTypeName,omitempty"`
	Quantity       int      `json:"quantity"`
	UnitPrice      int64    `json:"unitPrice"`
	Seats          []string `json:"seats,omitempty"`
	// SeatLabels name Seats in order: "<section> <label>".
	SeatLabels []string `json:"seatLabels,omitempty"`
}

// buyerResponse is who booked, for staff.
type buyerResponse struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type bookingResponse struct {
	ID            string                `json:"id"`
	EventID       string                `json:"eventId"`
	EventTitle    string                `json:"eventTitle,omitempty"`
	EventStartsAt *time.Time            `json:"eventStartsAt,omitempty"`
	EventTimezone string                `json:"eventTimezone,omitempty"` // the venue's: the shop shows times in it
	UserID        string                `json:"userId"`
	Buyer         *buyerResponse        `json:"buyer,omitempty"`
	Status        string                `json:"status"`
	ExpiresAt     time.Time             `json:"expiresAt"`
	Items         []bookingItemResponse `json:"items"`
	Total         int64                 `json:"total"`
	Currency      string                `json:"currency"`
	CreatedAt     time.Time             `json:"createdAt"`
	UpdatedAt     time.Time             `json:"updatedAt"`
	// FailureReason and ReviewNote are set on failed and reviewed bookings.
	FailureReason string `json:"failureReason,omitempty"`
	ReviewNote    string `json:"reviewNote,omitempty"`
}

func toBookingResponse(b *ticketing.Booking) bookingResponse {
	r := bookingResponse{ID: b.ID, EventID: b.EventID, UserID: b.UserID, Status: string(b.Status),
		ExpiresAt: b.ExpiresAt.UTC(), Items: []bookingItemResponse{}, Total: b.Total, Currency: b.Currency,
		CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC(), FailureReason: b.FailureReason, ReviewNote: b.ReviewNote}
	// A pending booking whose hold ran out is expired, whether or not the
	// worker has recorded it yet.
	if b.Status == ticketing.BookingPending && !b.ExpiresAt.After(time.Now()) {
		r.Status = string(ticketing.BookingExpired)
	}
	for _, it := range b.Items {
		r.Items = append(r.Items, bookingItemResponse{TicketTypeID: it.TicketTypeID, TicketTypeName: it.TicketTypeName, Quantity: it.Quantity,
			UnitPrice: it.UnitPrice, Seats: it.SeatIDs, SeatLabels: it.SeatLabels})
	}
	r.EventTitle, r.EventTimezone = b.EventTitle, b.EventTimezone
	if !b.EventStartsAt.IsZero() {
		r.EventStartsAt = utcPtr(&b.EventStartsAt)
	}
	return r
}

// bookingView is how the caller sees bookings: staff see the buyer too.
func bookingView(c *fiber.Ctx) func(*ticketing.Booking) bookingResponse {
	if isStaff(c) {
		return toStaffBookingResponse
	}
	return toBookingResponse
}

// toStaffBookingResponse is toBookingResponse with the buyer.
func toStaffBookingResponse(b *ticketing.Booking) bookingResponse {
	r := toBookingResponse(b)
	if b.BuyerEmail != "" {
		r.Buyer = &buyerResponse{Name: b.BuyerName, Email: b.BuyerEmail}
	}
	return r
}

// toNew converts the request, with its Idempotency-Key.
func (req *bookingRequest) toNew(idempotencyKey string) (ticketing.NewBooking, error) {
	n := ticketing.NewBooking{EventID: req.EventID, Seats: req.Seats, IdempotencyKey: idempotencyKey}
	for _, it := range req.Items {
		n.Items = append(n.Items, ticketing.ItemRequest{TicketTypeID: it.TicketTypeID, Quantity: it.Quantity})
	}
	if req.TicketTypeID != "" {
		if len(req.Items) > 0 {
			return n, invalid("send items, or the ticketTypeId and quantity shorthand, not both")
		}
		n.Items = []ticketing.ItemRequest{{TicketTypeID: req.TicketTypeID, Quantity: req.Quantity}}
	}
	return n, nil
}

func (s *Server) createBooking(c *fiber.Ctx) error {
	if err := s.limitBookings(c); err != nil {
		return err
	}
	var req bookingRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	n, err := req.toNew(strings.Clone(c.Get(HeaderIdempotencyKey)))
	if err != nil {
		return err
	}
	gated, err := s.checkAdmission(c, n.EventID)
	if err != nil {
		return s.refusedRetry(c, n, err)
	}
	b, err := s.deps.Bookings.CreateBooking(c.UserContext(), n)
	if err != nil {
		return err
	}
	if gated {
		s.deps.WaitingRooms.Booked(c.UserContext(), n.EventID, b.ID)
	}
	return c.Status(fiber.StatusCreated).JSON(toBookingResponse(b))
}

// refusedRetry answers a booking the waiting room refused with refusal: a
// retry with the Idempotency-Key of a booking made while admitted gets that
// booking as any retry does (201), whatever the admission says now;
// anything else gets the refusal, which tells nothing of the key.
func (s *Server) refusedRetry(c *fiber.Ctx, n ticketing.NewBooking, refusal error) error {
	if n.IdempotencyKey == "" || ticketing.ErrorKind(refusal) != ticketing.KindForbidden {
		return refusal
	}
	b, err := s.deps.Bookings.FindKeyedBooking(c.UserContext(), n)
	if ticketing.ErrorKind(err) == ticketing.KindNotFound {
		return refusal
	}
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toBookingResponse(b))
}

// limitBookings counts a booking request per tenant+user and per
// tenant+client address, and refuses it with 429 and Retry-After past either
// limit. The counters are the tenant's own (its hash tag), so one
// organizer's on-sale never spends another's budget.
func (s *Server) limitBookings(c *fiber.Ctx) error {
	if s.deps.BookingLimiter == nil {
		return nil
	}
	var limits []redis.Limit
	if s.cfg.BookingRateLimitUser > 0 {
		limits = append(limits, redis.Limit{Subject: "user:" + actorOf(c).UserID, Max: s.cfg.BookingRateLimitUser})
	}
	if s.cfg.BookingRateLimitIP > 0 {
		limits = append(limits, redis.Limit{Subject: "ip:" + s.clientIP(c), Max: s.cfg.BookingRateLimitIP})
	}
	if len(limits) == 0 {
		return nil
	}
	tenant := ticketing.TenantFromContext(c.UserContext())
	wait, err := s.deps.BookingLimiter.Allow(c.UserContext(), tenant.ID, limits...)
	if err != nil {
		return ticketing.Internal(err)
	}
	if wait > 0 {
		return tooMany(c, wait)
	}
	return nil
}

func (s *Server) listBookings(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := ticketing.BookingFilter{EventID: strings.Clone(c.Query("eventId")), UserID: strings.Clone(c.Query("userId")),
		Buyer: strings.Clone(c.Query("buyer")), Page: page}
	if st := c.Query("status"); st != "" {
		status := ticketing.BookingStatus(strings.Clone(st))
		f.Status = &status
	}
	if err := f.Validate(); err != nil {
		return err
	}
	bookings, next, err := s.deps.Bookings.FindBookings(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(listOf(bookings, bookingView(c), next))
}

func (s *Server) getBooking(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	b, err := s.deps.Bookings.FindBookingByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(bookingView(c)(b))
}

func (s *Server) cancelBooking(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	b, err := s.deps.Bookings.CancelBooking(ctx, id)
	if e := ticketing.AsError(err); e != nil && e.Code == ticketing.CodeInvalidState {
		// Not pending: a paid booking is cancelled under its event's
		// refund policy, which refunds it.
		if _, err = s.deps.Refunds.CancelPaidBooking(ctx, id); err == nil {
			b, err = s.deps.Bookings.FindBookingByID(ctx, id)
		}
	}
	if err != nil {
		return err
	}
	return c.JSON(toBookingResponse(b))
}

type stockResponse struct {
	TicketTypeID string `json:"ticketTypeId"`
	Capacity     int    `json:"capacity"`
	Sold         int    `json:"sold"`
	Held         int    `json:"held"`
	Available    int    `json:"available"`
}

func (s *Server) availability(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	stock, err := s.deps.Bookings.Availability(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := make([]stockResponse, 0, len(stock))
	for _, st := range stock {
		out = append(out, stockResponse(st))
	}
	return c.JSON(fiber.Map{"ticketTypes": out})
}
