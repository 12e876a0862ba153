package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qInsertEvent            = query("InsertEvent")
	qSelectEvent            = query("SelectEvent")
	qLockEvent              = query("LockEvent")
	qListEventsAsc          = query("ListEvents/asc")
	qListEventsDesc         = query("ListEvents/desc")
	qUpdateEvent            = query("UpdateEvent")
	qSelectTicketTypes      = query("SelectTicketTypes")
	qLockTicketType         = query("LockTicketType")
	qSelectTicketTypeEvent  = query("SelectTicketTypeEvent")
	qInsertTicketType       = query("InsertTicketType")
	qUpdateTicketType       = query("UpdateTicketType")
	qDeleteTicketType       = query("DeleteTicketType")
	qMatchSeats             = query("MatchSeats")
	qTakenSeats             = query("TakenSeats")
	qInsertTicketTypeSeats  = query("InsertTicketTypeSeats")
	qDeleteTicketTypeSeats  = query("DeleteTicketTypeSeats")
	qCountSeatedTicketTypes = query("CountSeatedTicketTypes")
	qTicketTypeHasBookings  = query("TicketTypeHasBookings")
	qSelectVenueCapacity    = query("SelectVenueCapacity")
)

// EventService implements ticketing.EventService. Every change to an event
// or its ticket types locks the event row first, so that changes to one
// event are serialized while different events proceed in parallel.
type EventService struct{ db *DB }

var _ ticketing.EventService = (*EventService)(nil)

// NewEventService returns an EventService on db.
func NewEventService(db *DB) *EventService { return &EventService{db: db} }

// read runs a read of the catalog. A buyer's (the public browsing of events
// and their ticket types) may lag behind writes and runs on the read
// replica when there is one; the organizer staff's runs on the primary, so
// that the console shows what it has just written.
func (s *EventService) read(ctx context.Context, staff bool, fn func(tx pgx.Tx) error) error {
	if staff {
		return s.db.InTenant(ctx, fn)
	}
	return s.db.ReadInTenant(ctx, fn)
}

// CreateEvent implements ticketing.EventService.
func (s *EventService) CreateEvent(ctx context.Context, n ticketing.NewEvent) (*ticketing.Event, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	var e *ticketing.Event
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, qInsertEvent, n.VenueID, n.Title, n.Description, n.StartsAt, n.EndsAt,
			n.Currency, n.SalesStartAt, n.SalesEndAt, *n.HoldMinutes,
			n.RefundPolicy.BuyerCancellation, n.RefundPolicy.UntilHours, n.RefundPolicy.FeeBps, n.MaxTicketsPerBuyer).Scan(&id)
		if pe := pgError(err); pe != nil && pe.Code == codeForeignKeyViolation {
			return errUnknownVenue
		}
		if err != nil {
			return err
		}
		if e, err = loadEvent(ctx, tx, qSelectEvent, id, true); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "event.create", "event", id, map[string]any{"title": e.Title, "venueId": e.VenueID})
	})
	return e, translate(err, "event")
}

var errUnknownVenue = ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, "venueId must be the id of one of your venues")

// FindEventByID implements ticketing.EventService.
func (s *EventService) FindEventByID(ctx context.Context, id string, staff bool) (*ticketing.Event, error) {
	var e *ticketing.Event
	err := s.read(ctx, staff, func(tx pgx.Tx) error {
		var err error
		if e, err = loadEvent(ctx, tx, qSelectEvent, id, staff); err != nil {
			return err
		}
		e.TicketTypes, err = selectTicketTypes(ctx, tx, id)
		return err
	})
	return e, translate(err, "event")
}

// FindEvents implements ticketing.EventService.
func (s *EventService) FindEvents(ctx context.Context, f ticketing.EventFilter) ([]*ticketing.Event, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	after, afterID, err := cursorArgs(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	q := qListEventsAsc
	if f.When == "past" {
		q = qListEventsDesc
	}
	size := f.Page.Size()
	var events []*ticketing.Event
	err = s.read(ctx, f.Staff, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, after, afterID, f.Staff, f.Status, f.Deleted, nullIfEmpty(f.When),
			nullIfEmpty(f.VenueID), f.From, f.To, likePattern(f.Query), size+1)
		if err != nil {
			return err
		}
		events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.Event, error) { return scanEvent(r) })
		return err
	})
	if err != nil {
		return nil, "", translate(err, "event")
	}
	events, next := trimPage(events, size, func(x *ticketing.Event) (time.Time, string) { return x.StartsAt, x.ID })
	return events, next, nil
}

// UpdateEvent implements ticketing.EventService.
func (s *EventService) UpdateEvent(ctx context.Context, id string, u ticketing.EventUpdate) (*ticketing.Event, error) {
	return s.changeEvent(ctx, id, &u.Version, "event.update", func(tx pgx.Tx, e *ticketing.Event) error {
		if e.Status == ticketing.EventCancelled || e.DeletedAt != nil {
			return invalidState("a cancelled or deleted event cannot be changed")
		}
		before := *e
		if err := u.Apply(e); err != nil {
			return err
		}
		if e.Currency != before.Currency && soldAny(e.TicketTypes) {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSalesConflict, "tickets were sold in %s; the currency cannot change", before.Currency)
		}
		if e.VenueID != before.VenueID {
			var seated int
			if err := tx.QueryRow(ctx, qCountSeatedTicketTypes, id).Scan(&seated); err != nil {
				return err
			}
			if seated > 0 {
				return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeLayoutInUse,
					"seated ticket types sell seats of the current venue; delete them before moving the event")
			}
			// The new venue must hold what the event sells.
			if err := tx.QueryRow(ctx, qSelectVenueCapacity, e.VenueID).Scan(&e.Venue.Capacity); errors.Is(err, pgx.ErrNoRows) {
				return errUnknownVenue
			} else if err != nil {
				return err
			}
			if err := checkVenueCapacity(e, "", 0); err != nil {
				return err
			}
		}
		return nil
	})
}

// PublishEvent implements ticketing.EventService.
func (s *EventService) PublishEvent(ctx context.Context, id string, version *int) (*ticketing.Event, error) {
	return s.changeEvent(ctx, id, version, "event.publish", func(_ pgx.Tx, e *ticketing.Event) error {
		if err := e.CheckPublishable(); err != nil {
			return err
		}
		now := time.Now()
		e.Status, e.PublishedAt = ticketing.EventPublished, &now
		return nil
	})
}

// CancelEvent implements ticketing.EventService.
func (s *EventService) CancelEvent(ctx context.Context, id string, version *int) (*ticketing.Event, error) {
	return s.changeEvent(ctx, id, version, "event.cancel", func(_ pgx.Tx, e *ticketing.Event) error {
		if e.Status == ticketing.EventCancelled {
			return invalidState("the event is already cancelled")
		}
		now := time.Now()
		e.Status, e.CancelledAt = ticketing.EventCancelled, &now
		return nil
	})
}

// DeleteEvent implements ticketing.EventService. A published event must be
// cancelled first, so that no buyer's event silently disappears.
func (s *EventService) DeleteEvent(ctx context.Context, id string, version *int) (*ticketing.Event, error) {
	return s.changeEvent(ctx, id, version, "event.delete", func(_ pgx.Tx, e *ticketing.Event) error {
		switch {
		case e.DeletedAt != nil:
			return invalidState("the event is already deleted")
		case e.Status == ticketing.EventPublished:
			return invalidState("a published event must be cancelled before it is deleted")
		}
		now := time.Now()
		e.DeletedAt = &now
		return nil
	})
}

// RestoreEvent implements ticketing.EventService.
func (s *EventService) RestoreEvent(ctx context.Context, id string, version *int) (*ticketing.Event, error) {
	return s.changeEvent(ctx, id, version, "event.restore", func(_ pgx.Tx, e *ticketing.Event) error {
		if e.DeletedAt == nil {
			return invalidState("the event is not deleted")
		}
		e.DeletedAt = nil
		return nil
	})
}

// changeEvent locks the event, checks the version, lets change modify it,
// saves it and audits the action, all in one transaction.
func (s *EventService) changeEvent(ctx context.Context, id string, version *int, action string, change func(pgx.Tx, *ticketing.Event) error) (*ticketing.Event, error) {
	var e *ticketing.Event
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		if e, err = loadEvent(ctx, tx, qLockEvent, id, true); err != nil {
			return err
		}
		if err := checkVersion(e.Version, version, "event"); err != nil {
			return err
		}
		if e.TicketTypes, err = selectTicketTypes(ctx, tx, id); err != nil {
			return err
		}
		if err := change(tx, e); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, qUpdateEvent, e.ID, e.VenueID, e.Title, e.Description, e.StartsAt, e.EndsAt, e.Currency,
			e.SalesStartAt, e.SalesEndAt, e.HoldMinutes, e.Status, e.PublishedAt, e.CancelledAt, e.DeletedAt,
			e.RefundPolicy.BuyerCancellation, e.RefundPolicy.UntilHours, e.RefundPolicy.FeeBps, e.MaxTicketsPerBuyer).Scan(&e.Version, &e.UpdatedAt)
		if pe := pgError(err); pe != nil && pe.Code == codeForeignKeyViolation {
			return errUnknownVenue
		}
		if err != nil {
			return err
		}
		// A moved event shows its new venue.
		reloaded, err := loadEvent(ctx, tx, qSelectEvent, id, true)
		if err != nil {
			return err
		}
		reloaded.TicketTypes = e.TicketTypes
		e = reloaded
		return writeAudit(ctx, tx, action, "event", id, map[string]any{"version": e.Version, "status": e.Status})
	})
	return e, translate(err, "event")
}

func invalidState(msg string) error {
	return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "%s", msg)
}

func soldAny(types []*ticketing.TicketType) bool {
	for _, t := range types {
		if t.Sold > 0 {
			return true
		}
	}
	return false
}

// CreateTicketType implements ticketing.EventService.
func (s *EventService) CreateTicketType(ctx context.Context, eventID string, n ticketing.NewTicketType) (*ticketing.TicketType, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	var t *ticketing.TicketType
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		e, err := s.lockOpenEvent(ctx, tx, eventID)
		if err != nil {
			return err
		}
		var seats []string
		capacity := 0
		if n.Kind == ticketing.Seated {
			if seats, err = resolveSeats(ctx, tx, e, n.Seats, ""); err != nil {
				return err
			}
			capacity = len(seats)
		} else {
			capacity = *n.Capacity
		}
		if err := checkVenueCapacity(e, "", capacity); err != nil {
			return err
		}
		t = &ticketing.TicketType{EventID: eventID, Name: n.Name, Kind: n.Kind, Price: *n.Price, Currency: e.Currency,
			Capacity: capacity, MaxPerOrder: *n.MaxPerOrder, MaxPerBuyer: n.MaxPerBuyer, SalesStartAt: n.SalesStartAt, SalesEndAt: n.SalesEndAt}
		if err := tx.QueryRow(ctx, qInsertTicketType, eventID, t.Name, t.Kind, t.Price, t.Capacity, t.MaxPerOrder,
			t.SalesStartAt, t.SalesEndAt, t.MaxPerBuyer).Scan(&t.ID, &t.Version, &t.CreatedAt, &t.UpdatedAt); err != nil {
			return err
		}
		if err := insertTicketTypeSeats(ctx, tx, e, t.ID, seats); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "ticket_type.create", "ticket_type", t.ID,
			map[string]any{"eventId": eventID, "name": t.Name, "kind": t.Kind, "price": t.Price, "capacity": t.Capacity})
	})
	return t, translate(err, "event")
}

// lockOpenEvent locks an event whose ticket types may change: not cancelled
// and not deleted.
func (s *EventService) lockOpenEvent(ctx context.Context, tx pgx.Tx, id string) (*ticketing.Event, error) {
	e, err := loadEvent(ctx, tx, qLockEvent, id, true)
	if err != nil {
		return nil, err
	}
	if e.Status == ticketing.EventCancelled || e.DeletedAt != nil {
		return nil, invalidState("ticket types of a cancelled or deleted event cannot change")
	}
	e.TicketTypes, err = selectTicketTypes(ctx, tx, id)
	return e, err
}

// checkVenueCapacity refuses ticket types that together hold more tickets
// than the venue has places; except is the ticket type being replaced.
func checkVenueCapacity(e *ticketing.Event, except string, capacity int) error {
	total := capacity
	for _, t := range e.TicketTypes {
		if t.ID != except {
			total += t.Capacity
		}
	}
	if total > e.Venue.Capacity {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeCapacityExceeded,
			"the event's ticket types would hold %d tickets, more than the venue's capacity of %d", total, e.Venue.Capacity)
	}
	return nil
}

// resolveSeats turns a selection into seat ids of the event's venue, in
// layout order, and refuses seats that another ticket type (not except)
// of the event sells.
func resolveSeats(ctx context.Context, tx pgx.Tx, e *ticketing.Event, sel ticketing.SeatSelection, except string) ([]string, error) {
	rows, err := tx.Query(ctx, qMatchSeats, e.VenueID, sel.Seats, sel.Sections)
	if err != nil {
		return nil, err
	}
	type match struct{ id, section, label string }
	matches, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (match, error) {
		var m match
		return m, r.Scan(&m.id, &m.section, &m.label)
	})
	if err != nil {
		return nil, err
	}
	var p ticketing.Problems
	for _, sec := range sel.Sections {
		found := false
		for _, m := range matches {
			found = found || m.section == sec
		}
		p.Addf(!found, "section %q is not in the venue's layout", sec)
	}
	chosen := map[string]bool{}
	for _, tok := range sel.Seats {
		var hits []match
		for _, m := range matches {
			if m.id == tok || m.section+":"+m.label == tok || m.label == tok {
				hits = append(hits, m)
			}
		}
		switch {
		case len(hits) == 0:
			p.Addf(true, "seat %q is not in the venue's layout", tok)
		case len(hits) > 1 && hits[0].id != tok:
			p.Addf(true, "seat %q is in several sections; write it as Section:%s", tok, tok)
		default:
			chosen[hits[0].id] = true
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range matches {
		inSection := false
		for _, sec := range sel.Sections {
			inSection = inSection || m.section == sec
		}
		if (inSection || chosen[m.id]) && !slices.Contains(ids, m.id) {
			ids = append(ids, m.id)
		}
	}
	trows, err := tx.Query(ctx, qTakenSeats, e.ID, ids, nullIfEmpty(except))
	if err != nil {
		return nil, err
	}
	taken, err := pgx.CollectRows(trows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if len(taken) > 0 {
		return nil, ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSeatTaken,
			"seats already sold by another ticket type of the event: %s", strings.Join(taken, ", "))
	}
	return ids, nil
}

func insertTicketTypeSeats(ctx context.Context, tx pgx.Tx, e *ticketing.Event, ticketTypeID string, seats []string) error {
	if len(seats) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, qInsertTicketTypeSeats, e.ID, e.VenueID, ticketTypeID, seats)
	if pe := pgError(err); pe != nil && pe.Code == codeUniqueViolation {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSeatTaken, "a seat is already sold by another ticket type of the event")
	}
	return err
}

// FindTicketTypes implements ticketing.EventService.
func (s *EventService) FindTicketTypes(ctx context.Context, eventID string, staff bool) ([]*ticketing.TicketType, error) {
	var types []*ticketing.TicketType
	err := s.read(ctx, staff, func(tx pgx.Tx) error {
		if _, err := loadEvent(ctx, tx, qSelectEvent, eventID, staff); err != nil {
			return err
		}
		var err error
		types, err = selectTicketTypes(ctx, tx, eventID)
		return err
	})
	return types, translate(err, "event")
}

// UpdateTicketType implements ticketing.EventService.
func (s *EventService) UpdateTicketType(ctx context.Context, id string, u ticketing.TicketTypeUpdate) (*ticketing.TicketType, error) {
	var t *ticketing.TicketType
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		e, err := s.lockEventOfTicketType(ctx, tx, id)
		if err != nil {
			return err
		}
		if t, err = scanTicketType(tx.QueryRow(ctx, qLockTicketType, id)); err != nil {
			return err
		}
		if err := checkVersion(t.Version, &u.Version, "ticket type"); err != nil {
			return err
		}
		if t.Held, err = heldQuantity(ctx, tx, id); err != nil {
			return err
		}
		if err := u.Apply(t); err != nil {
			return err
		}
		if !u.Seats.Empty() {
			if err := s.replaceSeats(ctx, tx, e, t, u.Seats); err != nil {
				return err
			}
		}
		if err := checkVenueCapacity(e, t.ID, t.Capacity); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, qUpdateTicketType, t.ID, t.Name, t.Price, t.Capacity, t.MaxPerOrder,
			t.SalesStartAt, t.SalesEndAt, t.MaxPerBuyer).Scan(&t.Version, &t.UpdatedAt); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "ticket_type.update", "ticket_type", t.ID,
			map[string]any{"version": t.Version, "price": t.Price, "capacity": t.Capacity})
	})
	return t, translate(err, "ticket type")
}

// replaceSeats gives a seated ticket type a new set of seats. Without a
// record of which seats were sold, a type with sales may not lose any seat.
func (s *EventService) replaceSeats(ctx context.Context, tx pgx.Tx, e *ticketing.Event, t *ticketing.TicketType, sel ticketing.SeatSelection) error {
	seats, err := resolveSeats(ctx, tx, e, sel, t.ID)
	if err != nil {
		return err
	}
	if t.Sold+t.Held > 0 {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSalesConflict,
			"%d tickets of %q were sold and %d are held; its seats cannot be replaced", t.Sold, t.Name, t.Held)
	}
	if err := refuseIfBooked(ctx, tx, t, "its seats cannot be replaced; create another seated ticket type"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, qDeleteTicketTypeSeats, t.ID); err != nil {
		return err
	}
	t.Capacity = len(seats)
	return insertTicketTypeSeats(ctx, tx, e, t.ID, seats)
}

// refuseIfBooked refuses a change to a ticket type that any booking, even
// an expired one, names: bookings keep their ticket types and seats.
func refuseIfBooked(ctx context.Context, tx pgx.Tx, t *ticketing.TicketType, consequence string) error {
	var booked bool
	if err := tx.QueryRow(ctx, qTicketTypeHasBookings, t.ID).Scan(&booked); err != nil {
		return err
	}
	if booked {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSalesConflict, "%q has bookings; %s", t.Name, consequence)
	}
	return nil
}

// lockEventOfTicketType locks the (open) event a ticket type belongs to.
func (s *EventService) lockEventOfTicketType(ctx context.Context, tx pgx.Tx, id string) (*ticketing.Event, error) {
	var eventID string
	if err := tx.QueryRow(ctx, qSelectTicketTypeEvent, id).Scan(&eventID); err != nil {
		return nil, err
	}
	return s.lockOpenEvent(ctx, tx, eventID)
}

// DeleteTicketType implements ticketing.EventService.
func (s *EventService) DeleteTicketType(ctx context.Context, id string, version *int) (string, error) {
	var eventID string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		e, err := s.lockEventOfTicketType(ctx, tx, id)
		if err != nil {
			return err
		}
		eventID = e.ID
		t, err := scanTicketType(tx.QueryRow(ctx, qLockTicketType, id))
		if err != nil {
			return err
		}
		if err := checkVersion(t.Version, version, "ticket type"); err != nil {
			return err
		}
		if t.Held, err = heldQuantity(ctx, tx, id); err != nil {
			return err
		}
		if t.Sold+t.Held > 0 {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSalesConflict, "%d tickets of %q were sold and %d are held; it cannot be deleted", t.Sold, t.Name, t.Held)
		}
		if err := refuseIfBooked(ctx, tx, t, "it cannot be deleted; close its sales window instead"); err != nil {
			return err
		}
		if e.Status == ticketing.EventPublished && len(e.TicketTypes) == 1 {
			return invalidState("a published event keeps at least one ticket type")
		}
		if _, err := tx.Exec(ctx, qDeleteTicketType, id); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "ticket_type.delete", "ticket_type", id, map[string]any{"eventId": e.ID, "name": t.Name})
	})
	return eventID, translate(err, "ticket type")
}

// loadEvent reads an event with its venue through q (qSelectEvent, which
// honours staff, or qLockEvent).
func loadEvent(ctx context.Context, tx pgx.Tx, q, id string, staff bool) (*ticketing.Event, error) {
	args := []any{id}
	if q == qSelectEvent {
		args = append(args, staff)
	}
	return scanEvent(tx.QueryRow(ctx, q, args...))
}

func selectTicketTypes(ctx context.Context, tx pgx.Tx, eventID string) ([]*ticketing.TicketType, error) {
	rows, err := tx.Query(ctx, qSelectTicketTypes, eventID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.TicketType, error) { return scanTicketType(r) })
}

func scanEvent(row pgx.Row) (*ticketing.Event, error) {
	e := ticketing.Event{Venue: &ticketing.Venue{}}
	err := row.Scan(&e.ID, &e.VenueID, &e.Title, &e.Description, &e.StartsAt, &e.EndsAt, &e.Currency,
		&e.SalesStartAt, &e.SalesEndAt, &e.HoldMinutes, &e.RefundPolicy.BuyerCancellation, &e.RefundPolicy.UntilHours,
		&e.RefundPolicy.FeeBps, &e.MaxTicketsPerBuyer, &e.Status, &e.PublishedAt, &e.CancelledAt, &e.DeletedAt,
		&e.Version, &e.CreatedAt, &e.UpdatedAt,
		&e.Venue.Name, &e.Venue.Address, &e.Venue.City, &e.Venue.Timezone, &e.Venue.Capacity)
	if err != nil {
		return nil, err
	}
	e.Venue.ID = e.VenueID
	return &e, nil
}

func scanTicketType(row pgx.Row) (*ticketing.TicketType, error) {
	var t ticketing.TicketType
	err := row.Scan(&t.ID, &t.EventID, &t.Name, &t.Kind, &t.Price, &t.Currency, &t.Capacity, &t.Sold, &t.MaxPerOrder, &t.MaxPerBuyer,
		&t.SalesStartAt, &t.SalesEndAt, &t.Version, &t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// nullIfEmpty maps "" to SQL NULL.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// likePattern makes a case-insensitive "contains" pattern, or NULL.
func likePattern(s string) *string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	p := "%" + likeEscaper.Replace(s) + "%"
	return &p
}
