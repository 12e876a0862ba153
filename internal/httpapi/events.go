package httpapi

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// eventResponse is an event as the API shows it: times in UTC and, for
// people, in the venue's time zone.
type eventResponse struct {
	ID            string               `json:"id"`
	VenueID       string               `json:"venueId"`
	Venue         eventVenueResponse   `json:"venue"`
	Title         string               `json:"title"`
	Description   string               `json:"description"`
	StartsAt      time.Time            `json:"startsAt"`
	EndsAt        time.Time            `json:"endsAt"`
	Timezone      string               `json:"timezone"`
	StartsAtLocal string               `json:"startsAtLocal"`
	EndsAtLocal   string               `json:"endsAtLocal"`
	Currency      string               `json:"currency"`
	SalesStartAt  *time.Time           `json:"salesStartAt"`
	SalesEndAt    *time.Time           `json:"salesEndAt"`
	HoldMinutes   int                  `json:"holdMinutes"`
	RefundPolicy  refundPolicyJSON     `json:"refundPolicy"`
	Status        string               `json:"status"`
	PublishedAt   *time.Time           `json:"publishedAt"`
	CancelledAt   *time.Time           `json:"cancelledAt"`
	DeletedAt     *time.Time           `json:"deletedAt,omitempty"`
	Version       int                  `json:"version"`
	CreatedAt     time.Time            `json:"createdAt"`
	UpdatedAt     time.Time            `json:"updatedAt"`
	TicketTypes   []ticketTypeResponse `json:"ticketTypes,omitempty"`
	// MaxTicketsPerBuyer is null when there is no limit.
	MaxTicketsPerBuyer *int `json:"maxTicketsPerBuyer"`
}

type eventVenueResponse struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Address  string `json:"address"`
	City     string `json:"city"`
	Timezone string `json:"timezone"`
}

type ticketTypeResponse struct {
	ID           string     `json:"id"`
	EventID      string     `json:"eventId"`
	Name         string     `json:"name"`
	Kind         string     `json:"kind"`
	Price        int64      `json:"price"`
	Currency     string     `json:"currency"`
	Capacity     int        `json:"capacity"`
	Sold         int        `json:"sold"`
	MaxPerOrder  int        `json:"maxPerOrder"`
	SalesStartAt *time.Time `json:"salesStartAt"`
	SalesEndAt   *time.Time `json:"salesEndAt"`
	Version      int        `json:"version"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
	// MaxPerBuyer is null when there is no limit.
	MaxPerBuyer *int `json:"maxPerBuyer"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toEventResponse(e *ticketing.Event) eventResponse {
	loc := ticketing.Location(e.Venue.Timezone)
	r := eventResponse{
		ID: e.ID, VenueID: e.VenueID, Title: e.Title, Description: e.Description,
		Venue:    eventVenueResponse{ID: e.VenueID, Name: e.Venue.Name, Address: e.Venue.Address, City: e.Venue.City, Timezone: e.Venue.Timezone},
		StartsAt: e.StartsAt.UTC(), EndsAt: e.EndsAt.UTC(), Timezone: e.Venue.Timezone,
		StartsAtLocal: e.StartsAt.In(loc).Format(time.RFC3339), EndsAtLocal: e.EndsAt.In(loc).Format(time.RFC3339),
		Currency: e.Currency, SalesStartAt: utcPtr(e.SalesStartAt), SalesEndAt: utcPtr(e.SalesEndAt),
		HoldMinutes: e.HoldMinutes, RefundPolicy: refundPolicyJSON(e.RefundPolicy),
		MaxTicketsPerBuyer: e.MaxTicketsPerBuyer, Status: string(e.Status), PublishedAt: utcPtr(e.PublishedAt),
		CancelledAt: utcPtr(e.CancelledAt), DeletedAt: utcPtr(e.DeletedAt), Version: e.Version,
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
	for _, t := range e.TicketTypes {
		r.TicketTypes = append(r.TicketTypes, toTicketTypeResponse(t))
	}
	return r
}

func toTicketTypeResponse(t *ticketing.TicketType) ticketTypeResponse {
	return ticketTypeResponse{
		ID: t.ID, EventID: t.EventID, Name: t.Name, Kind: string(t.Kind), Price: t.Price, Currency: t.Currency,
		Capacity: t.Capacity, Sold: t.Sold, MaxPerOrder: t.MaxPerOrder, MaxPerBuyer: t.MaxPerBuyer,
		SalesStartAt: utcPtr(t.SalesStartAt), SalesEndAt: utcPtr(t.SalesEndAt), Version: t.Version,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
	}
}

// isStaff reports whether the caller is organizer staff, who also see
// drafts, cancelled and deleted events.
func isStaff(c *fiber.Ctx) bool {
	return actorOf(c).Role == string(ticketing.RoleAdmin)
}

// times parses optional RFC 3339 fields, naming the bad ones.
type times struct{ p ticketing.Problems }

func (t *times) parse(field string, s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		t.p.Addf(true, "%s must be an RFC 3339 time such as 2026-12-31T19:00:00+01:00", field)
		return nil
	}
	return &v
}

func (t *times) required(field string, s *string) time.Time {
	if v := t.parse(field, s); v != nil {
		return *v
	}
	return time.Time{}
}

type eventRequest struct {
	VenueID      *string `json:"venueId"`
	Title        *string `json:"title"`
	Description  *string `json:"description"`
	StartsAt     *string `json:"startsAt"`
	EndsAt       *string `json:"endsAt"`
	Currency     *string `json:"currency"`
	SalesStartAt *string `json:"salesStartAt"`
	SalesEndAt   *string `json:"salesEndAt"`
	HoldMinutes  *int    `json:"holdMinutes"`
	// RefundPolicy, when sent, replaces the event's whole policy.
	RefundPolicy *refundPolicyJSON `json:"refundPolicy"`
	Version      int               `json:"version"`
	// MaxTicketsPerBuyer: a number sets the limit, null removes it.
	MaxTicketsPerBuyer nullableInt `json:"maxTicketsPerBuyer"`
}

// nullableInt is a number field where null means something (no limit):
// Set tells a field sent as null from one left out.
type nullableInt struct {
	Set   bool
	Value *int
}

// UnmarshalJSON accepts a number or null.
func (n *nullableInt) UnmarshalJSON(b []byte) error {
	n.Set, n.Value = true, nil
	if string(b) == "null" {
		return nil
	}
	var v int
	if err := json.Unmarshal(b, &v); err != nil {
		// The decoder names the field of this error.
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeOf(v)}
	}
	n.Value = &v
	return nil
}

// create is the value of a new resource: nil when left out or null.
func (n nullableInt) create() *int { return n.Value }

// update is the change of an update: none when left out, removal when null.
func (n nullableInt) update() ticketing.LimitUpdate {
	return ticketing.LimitUpdate{Set: n.Set, Value: n.Value}
}

// refundPolicyJSON is an event's refund policy: whether buyers may cancel a
// paid booking, until how many hours before the start, and the fee kept.
type refundPolicyJSON struct {
	BuyerCancellation bool `json:"buyerCancellation"`
	UntilHours        int  `json:"untilHours"`
	FeeBps            int  `json:"feeBps"`
}

func (r *refundPolicyJSON) policy() *ticketing.RefundPolicy {
	if r == nil {
		return nil
	}
	p := ticketing.RefundPolicy(*r)
	return &p
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *Server) createEvent(c *fiber.Ctx) error {
	var req eventRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var t times
	n := ticketing.NewEvent{
		VenueID: deref(req.VenueID), Title: deref(req.Title), Description: deref(req.Description),
		StartsAt: t.required("startsAt", req.StartsAt), EndsAt: t.required("endsAt", req.EndsAt),
		Currency:     deref(req.Currency),
		SalesStartAt: t.parse("salesStartAt", req.SalesStartAt), SalesEndAt: t.parse("salesEndAt", req.SalesEndAt),
		HoldMinutes: req.HoldMinutes, RefundPolicy: req.RefundPolicy.policy(),
		MaxTicketsPerBuyer: req.MaxTicketsPerBuyer.create(),
	}
	if err := t.p.Err(); err != nil {
		return err
	}
	e, err := s.deps.Events.CreateEvent(c.UserContext(), n)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toEventResponse(e))
}

func (s *Server) listEvents(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	var t times
	f := ticketing.EventFilter{
		When: strings.Clone(c.Query("when")), VenueID: strings.Clone(c.Query("venueId")),
		From: t.parse("from", ptr(c.Query("from"))), To: t.parse("to", ptr(c.Query("to"))),
		Query: strings.Clone(c.Query("q")), Staff: isStaff(c), Page: page,
	}
	if err := t.p.Err(); err != nil {
		return err
	}
	if st := c.Query("status"); st != "" || c.Query("deleted") != "" {
		if !f.Staff {
			return invalid("status and deleted filters are for organizer staff")
		}
		if st != "" {
			status := ticketing.EventStatus(strings.Clone(st))
			f.Status = &status
		}
		f.Deleted = c.QueryBool("deleted")
	}
	events, next, err := s.deps.Events.FindEvents(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(listOf(events, toEventResponse, next))
}

func ptr(s string) *string { return &s }

func (s *Server) getEvent(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	e, err := s.deps.Events.FindEventByID(c.UserContext(), id, isStaff(c))
	if err != nil {
		return err
	}
	return c.JSON(toEventResponse(e))
}

func (s *Server) updateEvent(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	var req eventRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var t times
	u := ticketing.EventUpdate{
		VenueID: req.VenueID, Title: req.Title, Description: req.Description,
		StartsAt: t.parse("startsAt", req.StartsAt), EndsAt: t.parse("endsAt", req.EndsAt), Currency: req.Currency,
		SalesStartAt: t.parse("salesStartAt", req.SalesStartAt), SalesEndAt: t.parse("salesEndAt", req.SalesEndAt),
		HoldMinutes: req.HoldMinutes, RefundPolicy: req.RefundPolicy.policy(), Version: req.Version,
		MaxTicketsPerBuyer: req.MaxTicketsPerBuyer.update(),
	}
	if err := t.p.Err(); err != nil {
		return err
	}
	e, err := s.deps.Events.UpdateEvent(c.UserContext(), id, u)
	if err != nil {
		return err
	}
	if err := s.stockChanged(c, id); err != nil {
		return err
	}
	return c.JSON(toEventResponse(e))
}

// eventAction serves the state changes of an event (publish, cancel,
// restore, delete), each of which takes an optional version.
func (s *Server) eventAction(action func(ctx context.Context, id string, version *int) (*ticketing.Event, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, "event")
		if err != nil {
			return err
		}
		version, err := optionalVersion(c)
		if err != nil {
			return err
		}
		e, err := action(c.UserContext(), id, version)
		if err != nil {
			return err
		}
		if err := s.stockChanged(c, id); err != nil {
			return err
		}
		return c.JSON(toEventResponse(e))
	}
}

// stockChanged tells the inventory that an event's catalog changed, so that
// holds and availability follow the new ticket types, prices and windows.
// The change is committed already: a failure here is logged, not returned,
// or a client's retry would meet its own new version as a conflict. Redis
// then follows at the next rebuild (`ticketd inventory rebuild`).
func (s *Server) stockChanged(c *fiber.Ctx, eventID string) error {
	if err := s.deps.Stock.EventChanged(c.UserContext(), eventID); err != nil {
		s.deps.Logger.ErrorContext(c.UserContext(), "inventory not refreshed after a catalog change",
			"event", eventID, "error", err.Error())
	}
	return nil
}

// optionalVersion reads {"version": n} from the body or ?version=n.
func optionalVersion(c *fiber.Ctx) (*int, error) {
	if len(c.Body()) == 0 {
		return queryVersion(c)
	}
	var req struct {
		Version *int `json:"version"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return nil, err
	}
	return req.Version, nil
}

type ticketTypeRequest struct {
	Name                      *string  `json:"name"`
	Kind                      string   `json:"kind"`
	Price                     *int64   `json:"price"`
	Capacity                  *int     `json:"capacity"`
	MaxPerOrder               *int     `json:"maxPerOrder"`
	SalesStartAt              *string  `json:"salesStartAt"`
	SalesEndAt                *string  `json:"salesEndAt"`
	Sections                  []string `json:"sections"`
	Seats                     []string `json:"seats"`
	AllowPriceChangeWithSales bool     `json:"allowPriceChangeWithSales"`
	Version                   int      `json:"version"`
	// MaxPerBuyer: a number sets the limit, null removes it.
	MaxPerBuyer nullableInt `json:"maxPerBuyer"`
}

func (s *Server) createTicketType(c *fiber.Ctx) error {
	eventID, err := pathID(c, "event")
	if err != nil {
		return err
	}
	var req ticketTypeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var t times
	n := ticketing.NewTicketType{
		Name: deref(req.Name), Kind: ticketing.TicketKind(req.Kind), Price: req.Price, Capacity: req.Capacity,
		MaxPerOrder: req.MaxPerOrder, MaxPerBuyer: req.MaxPerBuyer.create(),
		SalesStartAt: t.parse("salesStartAt", req.SalesStartAt), SalesEndAt: t.parse("salesEndAt", req.SalesEndAt),
		Seats: ticketing.SeatSelection{Sections: req.Sections, Seats: req.Seats},
	}
	if err := t.p.Err(); err != nil {
		return err
	}
	tt, err := s.deps.Events.CreateTicketType(c.UserContext(), eventID, n)
	if err != nil {
		return err
	}
	if err := s.stockChanged(c, eventID); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toTicketTypeResponse(tt))
}

func (s *Server) listTicketTypes(c *fiber.Ctx) error {
	eventID, err := pathID(c, "event")
	if err != nil {
		return err
	}
	types, err := s.deps.Events.FindTicketTypes(c.UserContext(), eventID, isStaff(c))
	if err != nil {
		return err
	}
	data := make([]ticketTypeResponse, 0, len(types))
	for _, t := range types {
		data = append(data, toTicketTypeResponse(t))
	}
	return c.JSON(fiber.Map{"data": data})
}

func (s *Server) updateTicketType(c *fiber.Ctx) error {
	id, err := pathID(c, "ticket type")
	if err != nil {
		return err
	}
	var req ticketTypeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Kind != "" {
		return invalid("kind cannot change; create another ticket type")
	}
	var t times
	u := ticketing.TicketTypeUpdate{
		Name: req.Name, Price: req.Price, Capacity: req.Capacity, MaxPerOrder: req.MaxPerOrder, MaxPerBuyer: req.MaxPerBuyer.update(),
		SalesStartAt: t.parse("salesStartAt", req.SalesStartAt), SalesEndAt: t.parse("salesEndAt", req.SalesEndAt),
		Seats:                     ticketing.SeatSelection{Sections: req.Sections, Seats: req.Seats},
		AllowPriceChangeWithSales: req.AllowPriceChangeWithSales, Version: req.Version,
	}
	if err := t.p.Err(); err != nil {
		return err
	}
	tt, err := s.deps.Events.UpdateTicketType(c.UserContext(), id, u)
	if err != nil {
		return err
	}
	if err := s.stockChanged(c, tt.EventID); err != nil {
		return err
	}
	return c.JSON(toTicketTypeResponse(tt))
}

func (s *Server) deleteTicketType(c *fiber.Ctx) error {
	id, err := pathID(c, "ticket type")
	if err != nil {
		return err
	}
	version, err := queryVersion(c)
	if err != nil {
		return err
	}
	eventID, err := s.deps.Events.DeleteTicketType(c.UserContext(), id, version)
	if err != nil {
		return err
	}
	if err := s.stockChanged(c, eventID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
