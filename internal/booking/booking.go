// Package booking sells tickets: it checks a request against the catalog,
// holds the tickets in Redis (the fast gate), records the pending booking in
// Postgres (the truth), schedules its expiry, and releases the hold on every
// path that ends a booking. It implements ticketing.BookingService.
package booking

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ticketd-io/ticketd/internal/cache"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Store is the Postgres side of bookings (postgres.BookingStore).
type Store interface {
	SaleInfo(ctx context.Context, eventID string) (*ticketing.Sale, error)
	InsertBooking(ctx context.Context, b *ticketing.Booking, idempotencyKey string) error
	FindBooking(ctx context.Context, id, userID string) (*ticketing.Booking, error)
	FindBookings(ctx context.Context, f ticketing.BookingFilter) ([]*ticketing.Booking, string, error)
	CancelBooking(ctx context.Context, id, userID string) (*ticketing.Booking, error)
	ExpireDue(ctx context.Context, limit int) ([]postgres.ExpiredBooking, error)
	FailBooking(ctx context.Context, id, reason string) error
}

// Inventory is the Redis side (inventory.Store).
type Inventory interface {
	Hold(ctx context.Context, ev inventory.Event, h inventory.Hold) error
	Reassert(ctx context.Context, ev inventory.Event, h inventory.Hold) error
	HeldNow(ctx context.Context, evs []inventory.Event, holdIDs []string) ([]bool, error)
	Release(ctx context.Context, ev inventory.Event, holdID string) (bool, error)
	ReleaseUnwritten(ctx context.Context, ev inventory.Event, h inventory.Hold) (bool, error)
	Availability(ctx context.Context, ev inventory.Event) (map[string]inventory.Stock, error)
	SeatStatuses(ctx context.Context, ev inventory.Event) (map[string]inventory.SeatStatus, string, error)
	SeatVersion(ctx context.Context, ev inventory.Event) (string, error)
	Drop(ctx context.Context, ev inventory.Event) error
	KeyedBooking(ctx context.Context, ev inventory.Event, buyer, key string) (string, error)
}

// Scheduler makes sure the tenant's bookings due at a time are expired then
// (the asynq client: one task per tenant and second).
type Scheduler interface {
	ScheduleExpiry(ctx context.Context, tenantID string, at time.Time) error
}

// Service implements ticketing.BookingService.
type Service struct {
	store     Store
	inventory Inventory
	scheduler Scheduler
	logger    *slog.Logger
	now       func() time.Time

	sales   *cache.Cache[*saleEntry] // tenant|event
	fences  *fences
	maxOpen int
}

var _ ticketing.BookingService = (*Service)(nil)

// New returns a Service. Catalog data used to check requests is cached per
// process for saleTTL (a change reaches the other instances through the
// bus given to Share, else within saleTTL and one read; Postgres refuses
// bookings of an event that stopped selling regardless).
func New(store Store, inv Inventory, scheduler Scheduler, logger *slog.Logger, saleTTL time.Duration) *Service {
	s := &Service{store: store, inventory: inv, scheduler: scheduler, logger: logger, now: time.Now,
		sales: cache.New[*saleEntry](saleTTL, loadTimeout)}
	s.fences = newFences(inv.HeldNow)
	return s
}

// Share has the other processes forget an event's cached catalog when
// EventChanged runs here, and this one forget what they change, through
// bus; call it before the Service is used.
func (s *Service) Share(bus cache.Bus) { s.sales.Share(bus, "sale") }

// SetMaxOpenHolds sets how many unpaid (pending) bookings one buyer may have
// in one event at once, 0 for any number; call it before the Service is used.
func (s *Service) SetMaxOpenHolds(n int) { s.maxOpen = n }

type saleEntry struct {
	sale *ticketing.Sale
	// layout fingerprints what the seat map shows of the sale, computed
	// once per load, when a seat map first asks.
	layout func() string
}

// loadTimeout bounds a cached read of the catalog, which requests share.
const loadTimeout = 10 * time.Second

// saleEntry returns the cached sale information of an event (package cache:
// reloaded in the background once it is older than the TTL, so the requests
// of an on-sale never wait together for that read).
func (s *Service) saleEntry(ctx context.Context, eventID string) (*saleEntry, error) {
	return s.sales.Get(ctx, ticketing.TenantFromContext(ctx).ID+"|"+eventID, func(ctx context.Context) (*saleEntry, error) {
		sale, err := s.store.SaleInfo(ctx, eventID)
		if err != nil {
			return nil, err
		}
		return &saleEntry{sale: sale, layout: sync.OnceValue(func() string { return layoutFingerprint(sale) })}, nil
	})
}

// EventChanged forgets what is known of an event's stock: the cached
// catalog, in this process and (once shared) in the others, and the Redis
// inventory, which the next request rebuilds from Postgres. Catalog writes
// call it once committed.
func (s *Service) EventChanged(ctx context.Context, eventID string) error {
	tenant := ticketing.TenantFromContext(ctx)
	s.sales.Changed(tenant.ID + "|" + eventID)
	return s.inventory.Drop(ctx, inventory.Event{TenantID: tenant.ID, EventID: eventID})
}

// visibleSale returns the sale of an event buyers may see, else NotFound.
func (s *Service) visibleSale(ctx context.Context, eventID string) (*ticketing.Sale, error) {
	e, err := s.visibleSaleEntry(ctx, eventID)
	if err != nil {
		return nil, err
	}
	return e.sale, nil
}

func (s *Service) visibleSaleEntry(ctx context.Context, eventID string) (*saleEntry, error) {
	if !ticketing.ValidID(eventID) {
		return nil, ticketing.NotFound("event")
	}
	e, err := s.saleEntry(ctx, eventID)
	if err != nil {
		return nil, err
	}
	if !e.sale.Visible() {
		return nil, ticketing.NotFound("event")
	}
	return e, nil
}

var errKeyReused = ticketing.Errorf(ticketing.KindConflict, "IDEMPOTENCY_KEY_REUSED",
	"this Idempotency-Key was used for a different booking request; use a new key")

// idempotencyNamespace derives booking ids from idempotency keys.
var idempotencyNamespace = uuid.MustParse("5b0f4f57-8d53-4a43-9b8e-0d4c8f1c6a21")

// CreateBooking implements ticketing.BookingService.
//
// A request with an Idempotency-Key costs what one without costs: its
// booking id is derived from the key and the request, and Postgres is asked
// for an existing booking only when Redis says one may exist (the keyed
// hash, see package inventory) or when the request is refused before
// reaching Redis. The same key with another request in the same event is
// refused by Redis; in another event, by the insert. The unique keys of
// bookings decide the rest: a retry that races its first attempt shares its
// hold and finds the booking when the insert meets it.
func (s *Service) CreateBooking(ctx context.Context, n ticketing.NewBooking) (*ticketing.Booking, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	tenant := ticketing.TenantFromContext(ctx)
	actor, _ := ticketing.ActorFromContext(ctx)
	id, keyed := ticketing.NewID(), n.IdempotencyKey != ""
	if keyed {
		id = keyedID(tenant.ID, actor.UserID, n)
	}
	b, hold, sale, err := s.check(ctx, n)
	if err != nil {
		// A retry may come after the sale changed (closed, unpublished):
		// what the key named before is still the answer.
		return s.existingOr(ctx, keyed, id, err)
	}
	b.ID, hold.ID, b.UserID = id, id, actor.UserID
	hold.Buyer, hold.MaxOpenHolds, hold.IdempotencyKey = actor.UserID, s.maxOpen, n.IdempotencyKey
	ev := inventory.Event{TenantID: tenant.ID, EventID: n.EventID}
	err = s.inventory.Hold(ctx, ev, hold)
	if errors.Is(err, inventory.ErrSeen) {
		// Made before and no longer held: confirmed, expired, cancelled, or
		// never written (its insert failed).
		if existing, err := s.existing(ctx, id); existing != nil || err != nil {
			return existing, err
		}
		hold.Unseen = true
		err = s.inventory.Hold(ctx, ev, hold)
	}
	if errors.Is(err, inventory.ErrKeyReused) {
		return nil, errKeyReused
	}
	if err := s.explainHold(sale, err); err != nil {
		return nil, err
	}
	if err := s.store.InsertBooking(ctx, b, n.IdempotencyKey); err != nil {
		if keyed && errors.Is(err, postgres.ErrBookingExists) {
			if existing, ferr := s.existing(ctx, id); existing != nil {
				if existing.Status != ticketing.BookingPending {
					// Our hold took tickets again for a booking that has
					// ended (a keyed hash rebuilt without it, or a race):
					// they are not its.
					s.release(ctx, ev, id)
				}
				// Otherwise a concurrent retry of the same request won,
				// and the hold is the booking's.
				return existing, nil
			} else if ferr != nil {
				// Whether our hold is the booking's is unknown: it stays
				// and expires with the booking if there is one.
				return nil, ferr
			}
		}
		if _, rerr := s.inventory.ReleaseUnwritten(ctx, ev, hold); rerr != nil {
			s.logger.WarnContext(ctx, "releasing a hold", "hold", id, "error", rerr.Error())
		}
		if errors.Is(err, postgres.ErrBookingExists) {
			return nil, errKeyReused
		}
		return nil, err
	}
	// Fence: if Redis lost the hold between the hold and the commit (a flush
	// or failover, rebuilt from Postgres before the booking existed there),
	// holding again with the same id restores it, or finds the tickets gone.
	var fenceErr error
	if !s.fences.held(ev, id) {
		fenceErr = s.explainHold(sale, s.inventory.Reassert(ctx, ev, hold))
	}
	if fenceErr != nil {
		if ferr := s.store.FailBooking(ctx, id, "inventory lost while booking"); ferr != nil {
			// The booking stays pending, so it keeps whatever hold it has and
			// expires like any other: a pending row without its hold would
			// make the next rebuild find Postgres overcommitted.
			s.logger.ErrorContext(ctx, "failing a booking whose hold was lost", "booking", id, "error", ferr.Error())
			return nil, fenceErr
		}
		// A fence that failed on a Redis error may have left the hold in
		// place; the failed booking no longer needs it.
		s.release(ctx, ev, id)
		return nil, fenceErr
	}
	// The expiry task of the booking's second; almost always enqueued by
	// an earlier booking already, so this costs a map lookup.
	if err := s.scheduler.ScheduleExpiry(ctx, tenant.ID, b.ExpiresAt); err != nil {
		// The periodic sweep and the lazy expiry in Redis still end it.
		s.logger.WarnContext(ctx, "scheduling booking expiry", "booking", id, "error", err.Error())
	}
	return b, nil
}

// keyedID is the id of the booking a keyed request makes. The same key of
// the same user with the same request always names the same booking, so a
// retry finds it and two racing retries share one hold. The same key with
// another request names another booking, which Postgres refuses (one
// booking per key): its hold is its own.
func keyedID(tenantID, userID string, n ticketing.NewBooking) string {
	return uuid.NewSHA1(idempotencyNamespace, []byte(tenantID+"|"+userID+"|"+n.IdempotencyKey+"|"+fingerprint(n))).String()
}

// errNoKeyedBooking is FindKeyedBooking's answer when the key made no
// booking for the request.
var errNoKeyedBooking = ticketing.NotFound("booking")

// FindKeyedBooking implements ticketing.BookingService.
//
// It reads Postgres only when Redis's keyed hash says the caller's key
// named the very booking this request makes: a key nobody used, another
// buyer's key or a key used with another request costs one Redis read, so
// requests refused before they may hold (the waiting room) cannot make
// Postgres work by sending keys. Nothing is held or written.
func (s *Service) FindKeyedBooking(ctx context.Context, n ticketing.NewBooking) (*ticketing.Booking, error) {
	if n.IdempotencyKey == "" || n.Validate() != nil {
		// An invalid request never made a booking.
		return nil, errNoKeyedBooking
	}
	tenant := ticketing.TenantFromContext(ctx)
	actor, _ := ticketing.ActorFromContext(ctx)
	id := keyedID(tenant.ID, actor.UserID, n)
	named, err := s.inventory.KeyedBooking(ctx, inventory.Event{TenantID: tenant.ID, EventID: n.EventID}, actor.UserID, n.IdempotencyKey)
	if err != nil {
		return nil, ticketing.Internal(err)
	}
	if named != id {
		return nil, errNoKeyedBooking
	}
	// The key named this booking; it may not be written (yet, or ever:
	// its insert failed and the release that forgets the key did not run).
	b, err := s.existing(ctx, id)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errNoKeyedBooking
	}
	return b, nil
}

// check checks a request against the sale and returns the booking it makes
// and the hold to place, without ids.
func (s *Service) check(ctx context.Context, n ticketing.NewBooking) (*ticketing.Booking, inventory.Hold, *ticketing.Sale, error) {
	sale, err := s.visibleSale(ctx, n.EventID)
	if err != nil {
		return nil, inventory.Hold{}, nil, err
	}
	b, hold, err := price(sale, n, s.now())
	return b, hold, sale, err
}

// existing returns the booking of the caller with id, nil when there is
// none.
func (s *Service) existing(ctx context.Context, id string) (*ticketing.Booking, error) {
	actor, _ := ticketing.ActorFromContext(ctx)
	b, err := s.store.FindBooking(ctx, id, actor.UserID)
	if ticketing.ErrorKind(err) == ticketing.KindNotFound {
		return nil, nil
	}
	return b, err
}

// existingOr answers a keyed request refused with refusal: the booking its
// key made before if there is one, else the refusal.
func (s *Service) existingOr(ctx context.Context, keyed bool, id string, refusal error) (*ticketing.Booking, error) {
	if !keyed {
		return nil, refusal
	}
	if b, err := s.existing(ctx, id); b != nil || err != nil {
		return b, err
	}
	return nil, refusal
}

// fingerprint is a canonical form of a booking request, so that the same
// request sent twice gives the same booking id.
func fingerprint(n ticketing.NewBooking) string {
	items := make([]string, 0, len(n.Items))
	for _, it := range n.Items {
		items = append(items, it.TicketTypeID+"x"+strconv.Itoa(it.Quantity))
	}
	seats := slices.Clone(n.Seats)
	slices.Sort(items)
	slices.Sort(seats)
	return n.EventID + "|" + strings.Join(items, ",") + "|" + strings.Join(seats, ",")
}

// price checks a request against the sale and returns the booking it makes
// (without ids) and the hold to place.
func price(sale *ticketing.Sale, n ticketing.NewBooking, now time.Time) (*ticketing.Booking, inventory.Hold, error) {
	e := sale.Event
	b := &ticketing.Booking{EventID: e.ID, EventTitle: e.Title, EventStartsAt: e.StartsAt, EventTimezone: e.Venue.Timezone,
		Status: ticketing.BookingPending, Currency: e.Currency,
		ExpiresAt: now.Add(time.Duration(e.HoldMinutes) * time.Minute).UTC().Truncate(time.Millisecond)}
	hold := inventory.Hold{ExpiresAt: b.ExpiresAt}
	var p ticketing.Problems
	counts := map[string]int{}
	for i, it := range n.Items {
		t, ok := sale.TicketTypes[it.TicketTypeID]
		switch {
		case !ok:
			p.Addf(true, "items[%d].ticketTypeId is not a ticket type of this event", i)
			continue
		case t.Kind == ticketing.Seated:
			p.Addf(true, "items[%d]: %q is seated; choose seats instead of a quantity", i, t.Name)
			continue
		}
		counts[t.ID] += it.Quantity
		hold.Items = append(hold.Items, inventory.Item{TicketTypeID: t.ID, Quantity: it.Quantity})
		b.Items = append(b.Items, ticketing.BookingItem{TicketTypeID: t.ID, TicketTypeName: t.Name, Quantity: it.Quantity, UnitPrice: t.Price})
	}
	seatItem := map[string]int{} // ticket type id → index in b.Items
	for i, seatID := range n.Seats {
		idx, ok := sale.SeatIndex[seatID]
		if !ok {
			p.Addf(true, "seats[%d] is not a seat sold for this event", i)
			continue
		}
		t := sale.TicketTypes[sale.Seats[idx].TicketTypeID]
		counts[t.ID]++
		j, ok := seatItem[t.ID]
		if !ok {
			j = len(b.Items)
			seatItem[t.ID] = j
			b.Items = append(b.Items, ticketing.BookingItem{TicketTypeID: t.ID, TicketTypeName: t.Name, UnitPrice: t.Price})
		}
		b.Items[j].Quantity++
		b.Items[j].SeatIDs = append(b.Items[j].SeatIDs, seatID)
		b.Items[j].SeatLabels = append(b.Items[j].SeatLabels, sale.Seats[idx].Section+" "+sale.Seats[idx].Label)
		hold.Seats = append(hold.Seats, seatID)
	}
	if err := p.Err(); err != nil {
		return nil, hold, err
	}
	for ttID, c := range counts {
		t := sale.TicketTypes[ttID]
		if err := sale.CheckOpen(t, now); err != nil {
			return nil, hold, err
		}
		p.Addf(c > t.MaxPerOrder, "at most %d tickets of %q per order", t.MaxPerOrder, t.Name)
	}
	if err := p.Err(); err != nil {
		return nil, hold, err
	}
	for _, it := range b.Items {
		b.Total += int64(it.Quantity) * it.UnitPrice
	}
	return b, hold, nil
}

// explainHold turns the refusal of a hold into the API's conflict errors,
// naming the ticket types and seats.
func (s *Service) explainHold(sale *ticketing.Sale, err error) error {
	var limit *inventory.BuyerLimit
	if errors.As(err, &limit) {
		return explainLimit(sale, limit)
	}
	var u *inventory.Unavailable
	if !errors.As(err, &u) {
		if err != nil {
			return ticketing.Internal(err)
		}
		return nil
	}
	var msgs []string
	for _, id := range u.SoldOut {
		if t, ok := sale.TicketTypes[id]; ok {
			msgs = append(msgs, fmt.Sprintf("%q does not have enough tickets left", t.Name))
		}
	}
	var seats []string
	for _, id := range u.Seats {
		if idx, ok := sale.SeatIndex[id]; ok {
			seats = append(seats, sale.Seats[idx].Section+" "+sale.Seats[idx].Label)
		}
	}
	if len(seats) > 0 {
		msgs = append(msgs, "seats no longer available: "+strings.Join(seats, ", "))
	}
	code := ticketing.CodeSeatUnavailable
	if len(u.SoldOut) > 0 {
		code = ticketing.CodeSoldOut
	}
	return &ticketing.Error{Kind: ticketing.KindConflict, Code: code, Messages: msgs}
}

// explainLimit turns a buyer limit into the API's error: 409 with the limit
// and what the buyer has in words and in details.
func explainLimit(sale *ticketing.Sale, l *inventory.BuyerLimit) error {
	details := map[string]any{"limit": l.Kind, "max": l.Limit, "current": l.Have}
	switch l.Kind {
	case inventory.LimitOpenHolds:
		return &ticketing.Error{Kind: ticketing.KindConflict, Code: ticketing.CodeOpenHoldsLimit, Details: details, Messages: []string{
			fmt.Sprintf("you may have at most %d unpaid bookings for this event at once and have %d; pay for or cancel one first", l.Limit, l.Have)}}
	case inventory.LimitTicketType:
		name := l.TicketTypeID
		if t, ok := sale.TicketTypes[l.TicketTypeID]; ok {
			name = t.Name
		}
		details["ticketTypeId"] = l.TicketTypeID
		return &ticketing.Error{Kind: ticketing.KindConflict, Code: ticketing.CodeBuyerLimitReached, Details: details, Messages: []string{
			fmt.Sprintf("one buyer may hold or own at most %d tickets of %q and you have %d", l.Limit, name, l.Have)}}
	default:
		return &ticketing.Error{Kind: ticketing.KindConflict, Code: ticketing.CodeBuyerLimitReached, Details: details, Messages: []string{
			fmt.Sprintf("one buyer may hold or own at most %d tickets of this event and you have %d", l.Limit, l.Have)}}
	}
}

// release returns a hold's tickets; failures are logged, because the hold
// also expires by itself.
func (s *Service) release(ctx context.Context, ev inventory.Event, holdID string) {
	if _, err := s.inventory.Release(ctx, ev, holdID); err != nil {
		s.logger.WarnContext(ctx, "releasing a hold", "hold", holdID, "error", err.Error())
	}
}

// FindBookingByID implements ticketing.BookingService.
func (s *Service) FindBookingByID(ctx context.Context, id string) (*ticketing.Booking, error) {
	return s.store.FindBooking(ctx, id, ticketing.OwnerScope(ctx))
}

// FindBookings implements ticketing.BookingService.
func (s *Service) FindBookings(ctx context.Context, f ticketing.BookingFilter) ([]*ticketing.Booking, string, error) {
	// A buyer lists their own bookings, whatever they ask for: the buyer
	// search is for staff, and is dropped rather than narrowing to them.
	if owner := ticketing.OwnerScope(ctx); owner != "" {
		f.UserID, f.Buyer = owner, ""
	}
	return s.store.FindBookings(ctx, f)
}

// CancelBooking implements ticketing.BookingService.
func (s *Service) CancelBooking(ctx context.Context, id string) (*ticketing.Booking, error) {
	b, err := s.store.CancelBooking(ctx, id, ticketing.OwnerScope(ctx))
	if err != nil {
		return nil, err
	}
	s.release(ctx, inventory.Event{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: b.EventID}, id)
	return b, nil
}

// SweepExpired expires every due booking of the context's tenant, in
// batches, and releases their holds; it returns how many it expired.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	tenantID := ticketing.TenantFromContext(ctx).ID
	total := 0
	for {
		due, err := s.store.ExpireDue(ctx, 500)
		if err != nil {
			return total, err
		}
		for _, d := range due {
			s.release(ctx, inventory.Event{TenantID: tenantID, EventID: d.EventID}, d.ID)
		}
		total += len(due)
		if len(due) < 500 {
			return total, nil
		}
	}
}

// Availability implements ticketing.BookingService.
func (s *Service) Availability(ctx context.Context, eventID string) ([]ticketing.Stock, error) {
	sale, err := s.visibleSale(ctx, eventID)
	if err != nil {
		return nil, err
	}
	stock, err := s.inventory.Availability(ctx, inventory.Event{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: eventID})
	if err != nil {
		return nil, ticketing.Internal(err)
	}
	var out []ticketing.Stock
	for _, t := range orderedTypes(sale) {
		st := stock[t.ID]
		out = append(out, ticketing.Stock{TicketTypeID: t.ID, Capacity: st.Capacity, Sold: st.Sold, Held: st.Held, Available: st.Available})
	}
	return out, nil
}

// orderedTypes lists a sale's ticket types in the order they were created,
// for stable output.
func orderedTypes(sale *ticketing.Sale) []*ticketing.TicketType {
	out := make([]*ticketing.TicketType, 0, len(sale.TicketTypes))
	for _, t := range sale.TicketTypes {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *ticketing.TicketType) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// SeatMap implements ticketing.BookingService.
func (s *Service) SeatMap(ctx context.Context, eventID string) (*ticketing.SeatMap, error) {
	e, err := s.visibleSaleEntry(ctx, eventID)
	if err != nil {
		return nil, err
	}
	statuses, version, err := s.inventory.SeatStatuses(ctx, inventory.Event{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: eventID})
	if err != nil {
		return nil, ticketing.Internal(err)
	}
	sale := e.sale
	out := make([]ticketing.SeatState, len(sale.Seats))
	for i, st := range sale.Seats {
		out[i] = ticketing.SeatState{ID: st.ID, Label: st.Label, Section: st.Section, Row: st.Row, TicketTypeID: st.TicketTypeID,
			Price: sale.TicketTypes[st.TicketTypeID].Price, Status: string(statuses[st.ID])}
	}
	layout := e.layout()
	return &ticketing.SeatMap{Version: layout + ":" + version, Layout: layout, Seats: out}, nil
}

// SeatMapVersion implements ticketing.BookingService: the fingerprint of the
// layout and prices this process knows, and the inventory's seat version.
func (s *Service) SeatMapVersion(ctx context.Context, eventID string) (string, error) {
	e, err := s.visibleSaleEntry(ctx, eventID)
	if err != nil {
		return "", err
	}
	version, err := s.inventory.SeatVersion(ctx, inventory.Event{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: eventID})
	if err != nil {
		return "", ticketing.Internal(err)
	}
	return e.layout() + ":" + version, nil
}

// layoutFingerprint hashes what a seat map shows of a sale besides the
// statuses: every seat's id, label, section, row, ticket type and price.
func layoutFingerprint(sale *ticketing.Sale) string {
	h := fnv.New64a()
	for _, st := range sale.Seats {
		var price int64
		if t := sale.TicketTypes[st.TicketTypeID]; t != nil {
			price = t.Price
		}
		for _, f := range [...]string{st.ID, st.Label, st.Section, st.Row, st.TicketTypeID, strconv.FormatInt(price, 10)} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
	}
	return strconv.FormatUint(h.Sum64(), 36)
}
