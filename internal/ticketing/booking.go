package ticketing

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// BookingStatus is the lifecycle state of a booking.
type BookingStatus string

// Booking statuses: pending → confirmed | expired | cancelled | failed; any
// → review when an admin flags it (or a charge does not match), and review
// → confirmed | refunded | cancelled when an admin decides (ReviewDecision).
const (
	BookingPending   BookingStatus = "pending"
	BookingConfirmed BookingStatus = "confirmed"
	BookingExpired   BookingStatus = "expired"
	BookingCancelled BookingStatus = "cancelled"
	BookingFailed    BookingStatus = "failed"
	BookingReview    BookingStatus = "review"
	// BookingRefunded is a confirmed booking refunded in full: its tickets
	// are void and their places back on sale.
	BookingRefunded BookingStatus = "refunded"
)

// Valid reports whether s is a booking status.
func (s BookingStatus) Valid() bool {
	switch s {
	case BookingPending, BookingConfirmed, BookingExpired, BookingCancelled, BookingFailed, BookingReview, BookingRefunded:
		return true
	}
	return false
}

// Error codes of bookings.
const (
	CodeSoldOut         = "SOLD_OUT"
	CodeSeatUnavailable = "SEAT_UNAVAILABLE"
	CodeSalesClosed     = "SALES_CLOSED"
	// CodeBuyerLimitReached refuses a booking that would give its buyer
	// more tickets (held and bought) than the event or a ticket type allows.
	CodeBuyerLimitReached = "BUYER_LIMIT_REACHED"
	// CodeOpenHoldsLimit refuses a booking while its buyer already has as
	// many unpaid bookings of the event as allowed.
	CodeOpenHoldsLimit = "OPEN_HOLDS_LIMIT"
)

// MaxTicketsPerBooking bounds one booking, whatever the ticket types allow.
const MaxTicketsPerBooking = 100

// Booking is a buyer's claim on tickets: held while pending, theirs once
// confirmed.
type Booking struct {
	ID      string
	EventID string
	UserID  string
	// What a person reads: the event's title and start, the time zone of
	// its venue (in which its times are shown), and, for staff, the
	// buyer's name and email (empty where not loaded).
	EventTitle    string
	EventStartsAt time.Time
	EventTimezone string
	BuyerName     string
	BuyerEmail    string
	Status        BookingStatus
	Items         []BookingItem
	Total         int64
	Currency      string
	ExpiresAt     time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// FailureReason says why a failed booking failed (a code such as
	// LATE_PAYMENT_SOLD_OUT, or a sentence).
	FailureReason string
	// ReviewNote says why a booking is under review.
	ReviewNote string
}

// BookingItem is the tickets of one ticket type in a booking. Seated types
// list their seats; Quantity is then the number of seats.
type BookingItem struct {
	TicketTypeID   string
	TicketTypeName string
	Quantity       int
	UnitPrice      int64
	SeatIDs        []string
	// SeatLabels name SeatIDs in order: "<section> <label>".
	SeatLabels []string
}

// ItemRequest asks for general admission tickets of one ticket type.
type ItemRequest struct {
	TicketTypeID string
	Quantity     int
}

// NewBooking is a buyer's request for tickets of one event.
type NewBooking struct {
	EventID string
	Items   []ItemRequest
	Seats   []string
	// IdempotencyKey, when set, makes retries of the same request by the
	// same user return the same booking.
	IdempotencyKey string
}

// Validate checks the shape of the request; the catalog decides the rest.
func (n *NewBooking) Validate() error {
	var p Problems
	if len(n.Items)+len(n.Seats) > MaxTicketsPerBooking {
		// Checked before each entry is, so that a body of thousands of
		// entries costs nothing.
		p.Addf(true, "a booking holds at most %d tickets", MaxTicketsPerBooking)
		return p.Err()
	}
	p.Addf(!ValidID(n.EventID), "eventId must be an event id")
	p.Addf(len(n.Items) == 0 && len(n.Seats) == 0, "items or seats must ask for at least one ticket")
	total := len(n.Seats)
	seenTypes := map[string]bool{}
	for i, it := range n.Items {
		p.Addf(!ValidID(it.TicketTypeID), "items[%d].ticketTypeId must be a ticket type id", i)
		p.Addf(seenTypes[it.TicketTypeID], "items[%d].ticketTypeId appears twice; add up the quantities", i)
		seenTypes[it.TicketTypeID] = true
		p.Addf(it.Quantity < 1, "items[%d].quantity must be at least 1", i)
		total += max(it.Quantity, 0)
	}
	seenSeats := map[string]bool{}
	for i, s := range n.Seats {
		p.Addf(!ValidID(s), "seats[%d] must be a seat id", i)
		p.Addf(seenSeats[s], "seats[%d] appears twice", i)
		seenSeats[s] = true
	}
	p.Addf(total > MaxTicketsPerBooking, "a booking holds at most %d tickets", MaxTicketsPerBooking)
	p.Addf(!ValidKey(n.IdempotencyKey), "Idempotency-Key must be at most %d characters of printable text", MaxIdempotencyKeyBytes)
	return p.Err()
}

// ValidKey reports whether an Idempotency-Key (empty: none) can be stored:
// at most MaxIdempotencyKeyBytes of UTF-8 without control characters.
func ValidKey(key string) bool {
	return len(key) <= MaxIdempotencyKeyBytes && utf8.ValidString(key) && !strings.ContainsFunc(key, unicode.IsControl)
}

// MaxBuyerSearch bounds BookingFilter.Buyer, in characters.
const MaxBuyerSearch = 200

// BookingFilter selects bookings in listings. Buyers always see only their
// own; staff may filter by user, and search by buyer.
type BookingFilter struct {
	EventID string
	UserID  string
	Status  *BookingStatus
	// Buyer matches bookings whose buyer's email starts with it,
	// case-insensitively (a whole address is the buyer's alone): a prefix,
	// so that finding the buyers is a range of an index however many
	// accounts the organizer has. Staff only; surrounding spaces are
	// ignored.
	Buyer string
	Page  Page
}

// Validate reports every problem with the filter.
func (f *BookingFilter) Validate() error {
	var p Problems
	p.Addf(f.EventID != "" && !ValidID(f.EventID), "eventId must be an event id")
	p.Addf(f.UserID != "" && !ValidID(f.UserID), "userId must be a user id")
	p.Addf(f.Status != nil && !f.Status.Valid(), "status must be pending, confirmed, expired, cancelled, failed, review or refunded")
	p.Addf(!utf8.ValidString(f.Buyer) || utf8.RuneCountInString(f.Buyer) > MaxBuyerSearch || strings.ContainsFunc(f.Buyer, unicode.IsControl),
		"buyer must be at most %d characters of text", MaxBuyerSearch)
	return p.Err()
}

// Stock is the availability of one ticket type.
type Stock struct {
	TicketTypeID string
	Capacity     int
	Sold         int
	Held         int
	Available    int
}

// SeatState is one seat of an event's seat map.
type SeatState struct {
	ID           string
	Label        string
	Section      string
	Row          string
	TicketTypeID string
	Price        int64
	Status       string // available, held or sold
}

// SeatMap is the seat map of an event at a version: the version names the
// layout, prices and statuses it shows, and changes whenever any of them does;
// Layout names the layout and prices alone.
type SeatMap struct {
	Version string
	Layout  string
	Seats   []SeatState
}

// BookingService sells tickets of the context's tenant to the context's
// actor.
type BookingService interface {
	// CreateBooking holds the tickets and records a pending booking that
	// expires after the event's hold minutes. Returns KindConflict (SOLD_OUT,
	// SEAT_UNAVAILABLE) when the tickets are not available, KindUnprocessable
	// (SALES_CLOSED) outside the sales window, KindNotFound for an event the
	// buyer cannot see, and KindInvalid for bad input.
	CreateBooking(ctx context.Context, n NewBooking) (*Booking, error)

	// FindKeyedBooking returns the booking that n's Idempotency-Key made
	// for this same request of the actor, what CreateBooking would return
	// for the retry, without holding or writing anything: for a retry
	// refused before it may book (the waiting room). NotFound when there is
	// none: no key, a key the actor did not use in the event, or used with
	// another request. It reads Postgres only for a key that named this
	// booking.
	FindKeyedBooking(ctx context.Context, n NewBooking) (*Booking, error)

	// FindBookingByID returns a booking of the actor (any booking for staff).
	FindBookingByID(ctx context.Context, id string) (*Booking, error)

	// FindBookings lists bookings of the actor (any for staff), newest first.
	FindBookings(ctx context.Context, f BookingFilter) ([]*Booking, string, error)

	// CancelBooking cancels a pending booking of the actor (any for staff)
	// and releases its tickets exactly once. Returns KindConflict
	// (INVALID_STATE) for a booking that is no longer pending.
	CancelBooking(ctx context.Context, id string) (*Booking, error)

	// Availability returns the stock of each ticket type of a visible event.
	Availability(ctx context.Context, eventID string) ([]Stock, error)

	// SeatMap returns the seats of a visible event with their status.
	SeatMap(ctx context.Context, eventID string) (*SeatMap, error)

	// SeatMapVersion returns the version SeatMap would answer now, without
	// reading the seats: a seat map at this version can be served again.
	SeatMapVersion(ctx context.Context, eventID string) (string, error)
}

// Sale is what selling tickets of an event needs to know about it: the
// event, its ticket types and the seats each seated type sells.
type Sale struct {
	Event       *Event
	TicketTypes map[string]*TicketType
	// Seats are the event's sellable seats, in layout order.
	Seats     []SaleSeat
	SeatIndex map[string]int // seat id → index in Seats
}

// SaleSeat is a seat of a seated ticket type.
type SaleSeat struct {
	ID           string
	TicketTypeID string
	Label        string
	Section      string
	Row          string
}

// Visible reports whether buyers may see the event: published or
// cancelled, and not deleted.
func (s *Sale) Visible() bool {
	return s.Event.DeletedAt == nil && s.Event.Status != EventDraft
}

// CheckOpen reports why tickets of the ticket type cannot be sold at now.
func (s *Sale) CheckOpen(t *TicketType, now time.Time) error {
	e := s.Event
	switch {
	case e.Status == EventCancelled:
		return Errorf(KindUnprocessable, CodeSalesClosed, "the event is cancelled")
	case e.SalesStartAt == nil || now.Before(*e.SalesStartAt):
		return Errorf(KindUnprocessable, CodeSalesClosed, "sales for this event have not opened")
	case e.SalesEndAt != nil && !now.Before(*e.SalesEndAt):
		return Errorf(KindUnprocessable, CodeSalesClosed, "sales for this event have closed")
	case t.SalesStartAt != nil && now.Before(*t.SalesStartAt):
		return Errorf(KindUnprocessable, CodeSalesClosed, "sales of %q have not opened", t.Name)
	case t.SalesEndAt != nil && !now.Before(*t.SalesEndAt):
		return Errorf(KindUnprocessable, CodeSalesClosed, "sales of %q have closed", t.Name)
	}
	return nil
}
