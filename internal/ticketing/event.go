package ticketing

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// EventStatus is the lifecycle state of an event.
type EventStatus string

// Event statuses: draft → published → cancelled (or draft → cancelled).
const (
	EventDraft     EventStatus = "draft"
	EventPublished EventStatus = "published"
	EventCancelled EventStatus = "cancelled"
)

// Error codes of catalog operations.
const (
	CodeVenueInUse       = "VENUE_IN_USE"
	CodeLayoutInUse      = "LAYOUT_IN_USE"
	CodeInvalidState     = "INVALID_STATE"
	CodeNotPublishable   = "NOT_PUBLISHABLE"
	CodeSalesConflict    = "SALES_CONFLICT"
	CodeSeatTaken        = "SEAT_TAKEN"
	CodeCapacityExceeded = "CAPACITY_EXCEEDED"
)

// Bounds and defaults of events and ticket types.
const (
	DefaultHoldMinutes     = 10
	MaxHoldMinutes         = 60
	DefaultMaxPerOrder     = 10
	MaxMaxPerOrder         = 100
	maxDescriptionRunes    = 5000
	maxEventTitleRunes     = 200
	maxTicketTypeNameRunes = 120
	// MaxBuyerLimit bounds maxPerBuyer and maxTicketsPerBuyer.
	MaxBuyerLimit = 10000
)

// Event is a dated happening at a venue, sold through its ticket types.
type Event struct {
	ID           string
	VenueID      string
	Title        string
	Description  string
	StartsAt     time.Time
	EndsAt       time.Time
	Currency     string
	SalesStartAt *time.Time
	SalesEndAt   *time.Time
	HoldMinutes  int
	RefundPolicy RefundPolicy
	Status       EventStatus
	PublishedAt  *time.Time
	CancelledAt  *time.Time
	DeletedAt    *time.Time
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// MaxTicketsPerBuyer is the most tickets of the event, of all its
	// ticket types, one buyer may hold and own at once; nil: no limit.
	MaxTicketsPerBuyer *int
	// Venue and TicketTypes are loaded by FindEventByID.
	Venue       *Venue
	TicketTypes []*TicketType
}

// NewEvent is the input to create an event (as a draft).
type NewEvent struct {
	VenueID      string
	Title        string
	Description  string
	StartsAt     time.Time
	EndsAt       time.Time
	Currency     string // empty: the tenant's currency
	SalesStartAt *time.Time
	SalesEndAt   *time.Time
	HoldMinutes  *int
	// RefundPolicy: buyers may not cancel paid bookings when it is nil.
	RefundPolicy *RefundPolicy
	// MaxTicketsPerBuyer: nil for no limit.
	MaxTicketsPerBuyer *int
}

// RefundPolicy says whether buyers may cancel a paid booking themselves,
// until how many hours before the event starts, and what share of what
// they paid is kept (basis points).
type RefundPolicy struct {
	BuyerCancellation bool
	UntilHours        int
	FeeBps            int
}

// DefaultCancelUntilHours is the policy's default cutoff.
const DefaultCancelUntilHours = 48

// Fee is the part of paid the policy keeps, rounded down.
func (r RefundPolicy) Fee(paid int64) int64 { return paid * int64(r.FeeBps) / 10000 }

func (r RefundPolicy) validate(p *Problems) {
	p.Addf(r.UntilHours < 0 || r.UntilHours > 8760, "refundPolicy.untilHours must be 0-8760")
	p.Addf(r.FeeBps < 0 || r.FeeBps > 10000, "refundPolicy.feeBps must be 0-10000 (basis points)")
}

// Validate normalizes the input and reports every problem with it.
func (n *NewEvent) Validate() error {
	var p Problems
	n.Title, n.Description = strings.TrimSpace(n.Title), strings.TrimSpace(n.Description)
	n.Currency = strings.ToUpper(strings.TrimSpace(n.Currency))
	p.Addf(!ValidID(n.VenueID), "venueId must be the id of one of your venues")
	validateEventText(&p, n.Title, n.Description)
	p.Addf(n.StartsAt.IsZero(), "startsAt is required (RFC 3339)")
	p.Addf(n.EndsAt.IsZero(), "endsAt is required (RFC 3339)")
	if n.Currency != "" {
		validateCurrency(&p, n.Currency)
	}
	if n.HoldMinutes == nil {
		h := DefaultHoldMinutes
		n.HoldMinutes = &h
	}
	validateHold(&p, *n.HoldMinutes)
	if n.RefundPolicy == nil {
		n.RefundPolicy = &RefundPolicy{UntilHours: DefaultCancelUntilHours}
	}
	n.RefundPolicy.validate(&p)
	validateBuyerLimit(&p, "maxTicketsPerBuyer", n.MaxTicketsPerBuyer)
	validateEventTimes(&p, n.StartsAt, n.EndsAt, n.SalesStartAt, n.SalesEndAt)
	return p.Err()
}

// EventUpdate changes an event; nil fields are unchanged.
type EventUpdate struct {
	VenueID      *string
	Title        *string
	Description  *string
	StartsAt     *time.Time
	EndsAt       *time.Time
	Currency     *string
	SalesStartAt *time.Time
	SalesEndAt   *time.Time
	HoldMinutes  *int
	RefundPolicy *RefundPolicy
	Version      int
	// MaxTicketsPerBuyer changes the event's limit.
	MaxTicketsPerBuyer LimitUpdate
}

// Apply validates the update against the current event and applies it to e.
func (u *EventUpdate) Apply(e *Event) error {
	var p Problems
	p.Addf(u.Version < 1, "version is required: send the version you last read")
	if u.VenueID != nil {
		p.Addf(!ValidID(*u.VenueID), "venueId must be the id of one of your venues")
		e.VenueID = *u.VenueID
	}
	setTrimmed(&e.Title, u.Title)
	setTrimmed(&e.Description, u.Description)
	validateEventText(&p, e.Title, e.Description)
	if u.Currency != nil {
		e.Currency = strings.ToUpper(strings.TrimSpace(*u.Currency))
		validateCurrency(&p, e.Currency)
	}
	setIf(&e.StartsAt, u.StartsAt)
	setIf(&e.EndsAt, u.EndsAt)
	if u.SalesStartAt != nil {
		e.SalesStartAt = u.SalesStartAt
	}
	if u.SalesEndAt != nil {
		e.SalesEndAt = u.SalesEndAt
	}
	setIf(&e.HoldMinutes, u.HoldMinutes)
	validateHold(&p, e.HoldMinutes)
	setIf(&e.RefundPolicy, u.RefundPolicy)
	e.RefundPolicy.validate(&p)
	applyBuyerLimit(&p, "maxTicketsPerBuyer", &e.MaxTicketsPerBuyer, u.MaxTicketsPerBuyer)
	validateEventTimes(&p, e.StartsAt, e.EndsAt, e.SalesStartAt, e.SalesEndAt)
	return p.Err()
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func setTrimmed(dst *string, v *string) {
	if v != nil {
		*dst = strings.TrimSpace(*v)
	}
}

func validateEventText(p *Problems, title, description string) {
	p.Addf(title == "" || utf8.RuneCountInString(title) > maxEventTitleRunes, "title must be 1-%d characters", maxEventTitleRunes)
	p.Addf(utf8.RuneCountInString(description) > maxDescriptionRunes, "description must be at most %d characters", maxDescriptionRunes)
}

func validateHold(p *Problems, minutes int) {
	p.Addf(minutes < 1 || minutes > MaxHoldMinutes, "holdMinutes must be 1-%d", MaxHoldMinutes)
}

// validateEventTimes checks the order of the event's times: it ends after it
// starts, and its sales window is ordered and closes by the end of the event.
func validateEventTimes(p *Problems, starts, ends time.Time, salesStart, salesEnd *time.Time) {
	if !starts.IsZero() && !ends.IsZero() {
		p.Addf(!ends.After(starts), "endsAt must be after startsAt")
	}
	if salesStart != nil && salesEnd != nil {
		p.Addf(!salesEnd.After(*salesStart), "salesEndAt must be after salesStartAt")
	}
	if salesEnd != nil && !ends.IsZero() {
		p.Addf(salesEnd.After(ends), "salesEndAt must not be after endsAt")
	}
	if salesStart != nil && !ends.IsZero() {
		p.Addf(!salesStart.Before(ends), "salesStartAt must be before endsAt")
	}
}

// CheckPublishable reports why e cannot be published, if it cannot: it must
// be a draft with a complete sales window and at least one ticket type whose
// own window lies inside the event's.
func (e *Event) CheckPublishable() error {
	var p Problems
	p.Addf(e.Status != EventDraft, "only a draft can be published; this event is %s", e.Status)
	p.Addf(e.DeletedAt != nil, "a deleted event cannot be published; restore it first")
	p.Addf(e.SalesStartAt == nil || e.SalesEndAt == nil, "salesStartAt and salesEndAt must be set")
	p.Addf(len(e.TicketTypes) == 0, "the event needs at least one ticket type")
	if e.SalesStartAt != nil && e.SalesEndAt != nil {
		for _, t := range e.TicketTypes {
			p.Addf(t.SalesStartAt != nil && t.SalesStartAt.Before(*e.SalesStartAt), "ticket type %q starts selling before the event's sales window", t.Name)
			p.Addf(t.SalesEndAt != nil && t.SalesEndAt.After(*e.SalesEndAt), "ticket type %q stops selling after the event's sales window", t.Name)
		}
	}
	if len(p) == 0 {
		return nil
	}
	return &Error{Kind: KindConflict, Code: CodeNotPublishable, Messages: p}
}

// EventFilter selects events in listings.
type EventFilter struct {
	// When is "upcoming" (not yet ended, soonest first), "past" (ended,
	// latest first) or "" (all, soonest first).
	When    string
	VenueID string
	From    *time.Time // starts at or after
	To      *time.Time // starts before
	// Query matches titles containing it, case-insensitively.
	Query string
	// Staff lists drafts and cancelled events too; Status narrows the list
	// and Deleted lists soft-deleted events instead of live ones.
	Staff   bool
	Status  *EventStatus
	Deleted bool
	Page    Page
}

// Validate reports every problem with the filter.
func (f *EventFilter) Validate() error {
	var p Problems
	p.Addf(!slices.Contains([]string{"", "upcoming", "past"}, f.When), "when must be upcoming or past")
	p.Addf(f.VenueID != "" && !ValidID(f.VenueID), "venueId must be a venue id")
	p.Addf(f.From != nil && f.To != nil && !f.To.After(*f.From), "to must be after from")
	p.Addf(utf8.RuneCountInString(f.Query) > 200, "q must be at most 200 characters")
	if f.Status != nil {
		p.Addf(!slices.Contains([]EventStatus{EventDraft, EventPublished, EventCancelled}, *f.Status), "status must be draft, published or cancelled")
	}
	return p.Err()
}

// TicketKind is general admission (a capacity) or seated (specific seats).
type TicketKind string

// Ticket kinds.
const (
	GeneralAdmission TicketKind = "general_admission"
	Seated           TicketKind = "seated"
)

// TicketType is what a buyer picks: a price and either a capacity or seats.
type TicketType struct {
	ID       string
	EventID  string
	Name     string
	Kind     TicketKind
	Price    int64 // minor units of Currency
	Currency string
	Capacity int
	Sold     int
	// Held is what live pending bookings hold; storage fills it in where a
	// change must respect it.
	Held         int
	MaxPerOrder  int
	SalesStartAt *time.Time
	SalesEndAt   *time.Time
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// MaxPerBuyer is the most tickets of the type one buyer may hold and
	// own at once; nil: no limit beyond MaxPerOrder.
	MaxPerBuyer *int
}

// SeatSelection names seats of the event's venue: whole sections and/or
// seats by id, by label ("A-12", when unique in the venue) or by
// "Section:A-12".
type SeatSelection struct {
	Sections []string
	Seats    []string
}

// Empty reports whether nothing is selected.
func (s SeatSelection) Empty() bool { return len(s.Sections) == 0 && len(s.Seats) == 0 }

// validate bounds the selection by what a layout can hold.
func (s SeatSelection) validate(p *Problems) {
	p.Addf(len(s.Sections) > MaxLayoutSections, "sections must list at most %d sections", MaxLayoutSections)
	p.Addf(len(s.Seats) > MaxLayoutSeats, "seats must list at most %d seats", MaxLayoutSeats)
}

// NewTicketType is the input to add a ticket type to an event.
type NewTicketType struct {
	Name         string
	Kind         TicketKind
	Price        *int64
	Capacity     *int
	MaxPerOrder  *int
	SalesStartAt *time.Time
	SalesEndAt   *time.Time
	Seats        SeatSelection
	// MaxPerBuyer: nil for no limit.
	MaxPerBuyer *int
}

// Validate normalizes the input and reports every problem with it.
func (n *NewTicketType) Validate() error {
	var p Problems
	n.Name = strings.TrimSpace(n.Name)
	validateTicketName(&p, n.Name)
	p.Addf(n.Kind != GeneralAdmission && n.Kind != Seated, "kind must be general_admission or seated")
	p.Addf(n.Price == nil, "price is required, in minor units (0 for free tickets)")
	if n.Price != nil {
		validatePrice(&p, *n.Price)
	}
	switch n.Kind {
	case GeneralAdmission:
		p.Addf(n.Capacity == nil || *n.Capacity < 1 || *n.Capacity > MaxVenueCapacity, "capacity must be 1-%d for general admission", MaxVenueCapacity)
		p.Addf(!n.Seats.Empty(), "general admission takes a capacity, not sections or seats")
	case Seated:
		p.Addf(n.Capacity != nil, "a seated ticket type's capacity is its number of seats; leave capacity out")
		p.Addf(n.Seats.Empty(), "a seated ticket type needs sections or seats of the venue")
		n.Seats.validate(&p)
	}
	if n.MaxPerOrder == nil {
		m := DefaultMaxPerOrder
		n.MaxPerOrder = &m
	}
	validateMaxPerOrder(&p, *n.MaxPerOrder)
	validateBuyerLimit(&p, "maxPerBuyer", n.MaxPerBuyer)
	validateTicketWindow(&p, n.SalesStartAt, n.SalesEndAt)
	return p.Err()
}

// TicketTypeUpdate changes a ticket type; nil fields are unchanged. Seats,
// when not empty, replaces a seated type's seats. A price change of a type
// that has sold tickets needs AllowPriceChangeWithSales.
type TicketTypeUpdate struct {
	Name                      *string
	Price                     *int64
	Capacity                  *int
	MaxPerOrder               *int
	MaxPerBuyer               LimitUpdate
	SalesStartAt              *time.Time
	SalesEndAt                *time.Time
	Seats                     SeatSelection
	AllowPriceChangeWithSales bool
	Version                   int
}

// Apply validates the update against the current ticket type and applies it
// to t, except for seats, which storage resolves. Conflicts with sales are
// KindConflict (SALES_CONFLICT).
func (u *TicketTypeUpdate) Apply(t *TicketType) error {
	var p Problems
	p.Addf(u.Version < 1, "version is required: send the version you last read")
	setTrimmed(&t.Name, u.Name)
	validateTicketName(&p, t.Name)
	if u.Price != nil {
		validatePrice(&p, *u.Price)
	}
	if u.Capacity != nil {
		p.Addf(t.Kind == Seated, "a seated ticket type's capacity is its number of seats; change its seats instead")
		p.Addf(*u.Capacity < 1 || *u.Capacity > MaxVenueCapacity, "capacity must be 1-%d", MaxVenueCapacity)
	}
	p.Addf(t.Kind == GeneralAdmission && !u.Seats.Empty(), "general admission takes a capacity, not sections or seats")
	u.Seats.validate(&p)
	setIf(&t.MaxPerOrder, u.MaxPerOrder)
	validateMaxPerOrder(&p, t.MaxPerOrder)
	applyBuyerLimit(&p, "maxPerBuyer", &t.MaxPerBuyer, u.MaxPerBuyer)
	if u.SalesStartAt != nil {
		t.SalesStartAt = u.SalesStartAt
	}
	if u.SalesEndAt != nil {
		t.SalesEndAt = u.SalesEndAt
	}
	validateTicketWindow(&p, t.SalesStartAt, t.SalesEndAt)
	if err := p.Err(); err != nil {
		return err
	}
	var c Problems
	if u.Price != nil && *u.Price != t.Price {
		c.Addf(t.Sold > 0 && !u.AllowPriceChangeWithSales,
			"%d tickets were sold at %d; changing the price needs allowPriceChangeWithSales: true", t.Sold, t.Price)
		t.Price = *u.Price
	}
	if u.Capacity != nil {
		c.Addf(*u.Capacity < t.Sold+t.Held, "capacity %d is below the %d tickets sold and %d held", *u.Capacity, t.Sold, t.Held)
		t.Capacity = *u.Capacity
	}
	if len(c) > 0 {
		return &Error{Kind: KindConflict, Code: CodeSalesConflict, Messages: c}
	}
	return nil
}

func validateTicketName(p *Problems, name string) {
	p.Addf(name == "" || utf8.RuneCountInString(name) > maxTicketTypeNameRunes, "name must be 1-%d characters", maxTicketTypeNameRunes)
}

func validatePrice(p *Problems, price int64) {
	p.Addf(price < 0 || price > 1_000_000_000_00, "price must be 0 or more minor units (and below 100000000000)")
}

func validateMaxPerOrder(p *Problems, n int) {
	p.Addf(n < 1 || n > MaxMaxPerOrder, "maxPerOrder must be 1-%d", MaxMaxPerOrder)
}

func validateBuyerLimit(p *Problems, field string, n *int) {
	p.Addf(n != nil && (*n < 1 || *n > MaxBuyerLimit), "%s must be 1-%d, or null for no limit", field, MaxBuyerLimit)
}

// LimitUpdate changes an optional limit: unless Set it stays as it is; Set
// with a nil Value removes it.
type LimitUpdate struct {
	Set   bool
	Value *int
}

// applyBuyerLimit applies an update of an optional limit to dst.
func applyBuyerLimit(p *Problems, field string, dst **int, u LimitUpdate) {
	if !u.Set {
		return
	}
	*dst = nil
	if u.Value != nil {
		n := *u.Value
		*dst = &n
	}
	validateBuyerLimit(p, field, *dst)
}

func validateTicketWindow(p *Problems, start, end *time.Time) {
	p.Addf(start != nil && end != nil && !end.After(*start), "salesEndAt must be after salesStartAt")
}

// EventService manages the events and ticket types of the context's tenant.
// Methods with staff=false see only what the public may: published or
// cancelled events that are not deleted; anything else is KindNotFound.
// Their reads are the public's browsing and may lag a moment behind writes
// (an implementation may serve them from a read replica); staff reads see
// every write that came before them.
type EventService interface {
	// CreateEvent creates a draft. Returns KindInvalid for bad input or an
	// unknown venue.
	CreateEvent(ctx context.Context, n NewEvent) (*Event, error)
	// FindEventByID returns an event with its venue and ticket types.
	FindEventByID(ctx context.Context, id string, staff bool) (*Event, error)
	// FindEvents returns one page of events and the next page's cursor.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	// UpdateEvent applies u. Returns KindConflict for a stale version
	// (STALE_VERSION), a cancelled event (INVALID_STATE), or a change that
	// contradicts sales (SALES_CONFLICT, LAYOUT_IN_USE).
	UpdateEvent(ctx context.Context, id string, u EventUpdate) (*Event, error)
	// PublishEvent, CancelEvent, DeleteEvent and RestoreEvent change the
	// event's state. version, when not nil, must match. Impossible
	// transitions are KindConflict (INVALID_STATE, NOT_PUBLISHABLE).
	PublishEvent(ctx context.Context, id string, version *int) (*Event, error)
	CancelEvent(ctx context.Context, id string, version *int) (*Event, error)
	DeleteEvent(ctx context.Context, id string, version *int) (*Event, error)
	RestoreEvent(ctx context.Context, id string, version *int) (*Event, error)

	// CreateTicketType adds a ticket type to a draft or published event.
	// Seats must belong to the event's venue and to no other ticket type of
	// the event (KindConflict, SEAT_TAKEN).
	CreateTicketType(ctx context.Context, eventID string, n NewTicketType) (*TicketType, error)
	// FindTicketTypes lists an event's ticket types.
	FindTicketTypes(ctx context.Context, eventID string, staff bool) ([]*TicketType, error)
	// UpdateTicketType applies u (see TicketTypeUpdate.Apply for conflicts).
	UpdateTicketType(ctx context.Context, id string, u TicketTypeUpdate) (*TicketType, error)
	// DeleteTicketType deletes a ticket type that has sold and holds
	// nothing, and returns its event's id.
	DeleteTicketType(ctx context.Context, id string, version *int) (string, error)
}
