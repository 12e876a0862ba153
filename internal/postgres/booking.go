package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/batch"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qSelectSaleEvent        = query("SelectSaleEvent")
	qSelectSaleSeats        = query("SelectSaleSeats")
	qSelectBooking          = query("SelectBooking")
	qSelectBookingItems     = query("SelectBookingItems")
	qDescribeBookings       = query("DescribeBookings")
	qListBookings           = query("ListBookings")
	qListBuyerBookings      = query("ListBuyerBookings")
	qCancelBooking          = query("CancelBooking")
	qExpireDueBookings      = query("ExpireDueBookings")
	qFailBooking            = query("FailBooking")
	qDeactivateBookingSeats = query("DeactivateBookingSeats")
	qSelectStock            = query("SelectStock")
	qSelectStockSeats       = query("SelectStockSeats")
	qSelectLiveHolds        = query("SelectLiveHolds")
	qSelectEventBuyerLimit  = query("SelectEventBuyerLimit")
	qSelectBought           = query("SelectBought")
	qSelectKeyedBookings    = query("SelectKeyedBookings")
	qSelectSettledHolds     = query("SelectSettledHolds")
	qHeldQuantity           = query("HeldQuantity")
)

// Constraints whose violations InsertBooking explains.
const (
	bookingSeatsActiveKey = "booking_seats_active_key"
	bookingIdempotencyKey = "bookings_idempotency_key"
	bookingPrimaryKey     = "bookings_pkey"
)

var errEventStoppedSelling = ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeSalesClosed, "the event is no longer on sale")

// BookingStore keeps bookings in Postgres: the truth behind the Redis holds.
type BookingStore struct {
	db      *DB
	inserts batch.Group[*insertRequest]
	// commits, when set, is told the size and duration of each group commit.
	commits func(bookings int, took time.Duration)
}

// NewBookingStore returns a BookingStore on db.
func NewBookingStore(db *DB) *BookingStore {
	s := &BookingStore{db: db}
	s.inserts = batch.Group[*insertRequest]{Flushers: maxInsertFlushers, Max: maxInsertBatch, Run: s.writeBatch,
		Owner: func(r *insertRequest) string { return r.tenantID }}
	return s
}

// ErrBookingExists is returned by InsertBooking when a booking with the same
// id (the same idempotency key) exists already.
var ErrBookingExists = errors.New("postgres: booking exists")

// SaleInfo reads what selling an event's tickets needs: the event with its
// venue, its ticket types and the seats of its seated types.
func (s *BookingStore) SaleInfo(ctx context.Context, eventID string) (*ticketing.Sale, error) {
	sale := &ticketing.Sale{TicketTypes: map[string]*ticketing.TicketType{}, SeatIndex: map[string]int{}}
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		if sale.Event, err = scanEvent(tx.QueryRow(ctx, qSelectSaleEvent, eventID)); err != nil {
			return err
		}
		types, err := selectTicketTypes(ctx, tx, eventID)
		if err != nil {
			return err
		}
		for _, t := range types {
			sale.TicketTypes[t.ID] = t
		}
		rows, err := tx.Query(ctx, qSelectSaleSeats, eventID)
		if err != nil {
			return err
		}
		sale.Seats, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.SaleSeat, error) {
			var st ticketing.SaleSeat
			return st, r.Scan(&st.ID, &st.TicketTypeID, &st.Label, &st.Section, &st.Row)
		})
		return err
	})
	if err != nil {
		return nil, translate(err, "event")
	}
	for i, st := range sale.Seats {
		sale.SeatIndex[st.ID] = i
	}
	return sale, nil
}

// FindBooking returns a booking with its items; userID, when not empty,
// must own it.
func (s *BookingStore) FindBooking(ctx context.Context, id, userID string) (*ticketing.Booking, error) {
	var b *ticketing.Booking
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		if b, err = scanBooking(tx.QueryRow(ctx, qSelectBooking, id, nullIfEmpty(userID))); err != nil {
			return err
		}
		return loadItems(ctx, tx, []*ticketing.Booking{b})
	})
	return b, translate(err, "booking")
}

// FindBookings lists bookings, newest first.
func (s *BookingStore) FindBookings(ctx context.Context, f ticketing.BookingFilter) ([]*ticketing.Booking, string, error) {
	after, afterID, err := cursorArgs(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	size := f.Page.Size()
	var bookings []*ticketing.Booking
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		args := []any{after, afterID, nullIfEmpty(f.UserID), nullIfEmpty(f.EventID), f.Status, size + 1}
		q := qListBookings
		if buyer := strings.ToLower(strings.TrimSpace(f.Buyer)); buyer != "" {
			// Planned afresh with the prefix itself (an unnamed statement),
			// which the index range is made of: a cached generic plan
			// knows no prefix.
			q, args = qListBuyerBookings, append([]any{pgx.QueryExecModeCacheDescribe}, append(args, buyer)...)
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		if bookings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.Booking, error) { return scanBooking(r) }); err != nil {
			return err
		}
		return loadItems(ctx, tx, bookings)
	})
	if err != nil {
		return nil, "", translate(err, "booking")
	}
	bookings, next := trimPage(bookings, size, func(b *ticketing.Booking) (time.Time, string) { return b.CreatedAt, b.ID })
	return bookings, next, nil
}

// CancelBooking moves a pending, unexpired booking to cancelled and frees
// its seats; userID, when not empty, must own it. The returned booking is
// the cancelled one.
func (s *BookingStore) CancelBooking(ctx context.Context, id, userID string) (*ticketing.Booking, error) {
	var b *ticketing.Booking
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var got string
		err := tx.QueryRow(ctx, qCancelBooking, id, nullIfEmpty(userID)).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			existing, ferr := scanBooking(tx.QueryRow(ctx, qSelectBooking, id, nullIfEmpty(userID)))
			if ferr != nil {
				return ferr
			}
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the booking is %s; only a pending booking can be cancelled", displayStatus(existing))
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qDeactivateBookingSeats, []string{id}); err != nil {
			return err
		}
		if b, err = scanBooking(tx.QueryRow(ctx, qSelectBooking, id, nil)); err != nil {
			return err
		}
		if err := loadItems(ctx, tx, []*ticketing.Booking{b}); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "booking.cancel", "booking", id, map[string]any{"eventId": b.EventID})
	})
	return b, translate(err, "booking")
}

// displayStatus names a pending booking whose hold ran out as expired.
func displayStatus(b *ticketing.Booking) ticketing.BookingStatus {
	if b.Status == ticketing.BookingPending && !b.ExpiresAt.After(time.Now()) {
		return ticketing.BookingExpired
	}
	return b.Status
}

// ExpiredBooking names a booking that ExpireDue expired.
type ExpiredBooking struct{ ID, EventID string }

// ExpireDue expires up to limit pending bookings of the context's tenant
// whose holds ran out, skipping rows another sweeper has locked.
func (s *BookingStore) ExpireDue(ctx context.Context, limit int) ([]ExpiredBooking, error) {
	var out []ExpiredBooking
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qExpireDueBookings, limit)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExpiredBooking, error) {
			var e ExpiredBooking
			return e, r.Scan(&e.ID, &e.EventID)
		}); err != nil || len(out) == 0 {
			return err
		}
		ids := make([]string, len(out))
		for i, e := range out {
			ids[i] = e.ID
		}
		_, err = tx.Exec(ctx, qDeactivateBookingSeats, ids)
		return err
	})
	return out, translate(err, "booking")
}

// FailBooking marks a pending booking failed, freeing its seats.
func (s *BookingStore) FailBooking(ctx context.Context, id, reason string) error {
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qFailBooking, id, reason); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qDeactivateBookingSeats, []string{id})
		return err
	})
	return translate(err, "booking")
}

// LoadInventory implements inventory.Loader: the stock of an event and the
// holds of its live pending bookings, read in one snapshot.
func (s *BookingStore) LoadInventory(ctx context.Context, ev inventory.Event) (*inventory.Snapshot, error) {
	snap := &inventory.Snapshot{}
	ctx = ticketing.WithActor(ctx, ticketing.SystemActor("inventory"))
	err := s.db.SnapshotWithTenant(ctx, ev.TenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qSelectStock, ev.EventID)
		if err != nil {
			return err
		}
		if snap.TicketTypes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (inventory.TicketTypeStock, error) {
			var t inventory.TicketTypeStock
			return t, r.Scan(&t.ID, &t.Seated, &t.Capacity, &t.Sold, &t.MaxPerBuyer)
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, qSelectStockSeats, ev.EventID); err != nil {
			return err
		}
		if snap.Seats, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (inventory.SeatStock, error) {
			var st inventory.SeatStock
			return st, r.Scan(&st.ID, &st.TicketTypeID, &st.Sold)
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, qSelectLiveHolds, ev.EventID); err != nil {
			return err
		}
		snap.Holds, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (inventory.Hold, error) {
			var (
				h          inventory.Hold
				types      []string
				quantities []int32
			)
			if err := r.Scan(&h.ID, &h.ExpiresAt, &types, &quantities, &h.Seats, &h.Buyer); err != nil {
				return h, err
			}
			for i := range types {
				h.Items = append(h.Items, inventory.Item{TicketTypeID: types[i], Quantity: int(quantities[i])})
			}
			return h, nil
		})
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, qSelectEventBuyerLimit, ev.EventID).Scan(&snap.MaxPerBuyer); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, qSelectBought, ev.EventID); err != nil {
			return err
		}
		if snap.Bought, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (inventory.Bought, error) {
			var b inventory.Bought
			return b, r.Scan(&b.Buyer, &b.TicketTypeID, &b.Count)
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, qSelectSettledHolds, ev.EventID); err != nil {
			return err
		}
		if snap.Settled, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, qSelectKeyedBookings, ev.EventID); err != nil {
			return err
		}
		snap.Keyed, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (inventory.KeyedBooking, error) {
			var k inventory.KeyedBooking
			return k, r.Scan(&k.ID, &k.Buyer, &k.IdempotencyKey)
		})
		return err
	})
	return snap, translate(err, "event")
}

// heldQuantity returns how many tickets of a ticket type live pending
// bookings hold, inside a catalog transaction.
func heldQuantity(ctx context.Context, tx pgx.Tx, ticketTypeID string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, qHeldQuantity, ticketTypeID).Scan(&n)
	return n, err
}

func scanBooking(row pgx.Row) (*ticketing.Booking, error) {
	var b ticketing.Booking
	err := row.Scan(&b.ID, &b.EventID, &b.UserID, &b.Status, &b.Total, &b.Currency, &b.ExpiresAt, &b.CreatedAt, &b.UpdatedAt, &b.FailureReason, &b.ReviewNote)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// loadItems fills in the items of bookings, and what a person reads of
// them, with two queries.
func loadItems(ctx context.Context, tx pgx.Tx, bookings []*ticketing.Booking) error {
	if len(bookings) == 0 {
		return nil
	}
	byID := make(map[string]*ticketing.Booking, len(bookings))
	ids := make([]string, len(bookings))
	for i, b := range bookings {
		byID[b.ID], ids[i] = b, b.ID
	}
	rows, err := tx.Query(ctx, qSelectBookingItems, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var bookingID string
		var it ticketing.BookingItem
		if err := rows.Scan(&bookingID, &it.TicketTypeID, &it.TicketTypeName, &it.Quantity, &it.UnitPrice, &it.SeatIDs, &it.SeatLabels); err != nil {
			return err
		}
		byID[bookingID].Items = append(byID[bookingID].Items, it)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, qDescribeBookings, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var d ticketing.Booking
		if err := rows.Scan(&id, &d.EventTitle, &d.EventStartsAt, &d.EventTimezone, &d.BuyerName, &d.BuyerEmail); err != nil {
			return err
		}
		b := byID[id]
		b.EventTitle, b.EventStartsAt, b.EventTimezone = d.EventTitle, d.EventStartsAt, d.EventTimezone
		b.BuyerName, b.BuyerEmail = d.BuyerName, d.BuyerEmail
	}
	return rows.Err()
}
