package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Booking inserts are the hot path of an on-sale, and their commits queue on
// Postgres's WAL. So they are group-committed: a request queues its insert;
// when no writer is running, one starts and writes every queued insert (up
// to maxInsertBatch) as one implicit transaction in one round trip,
// repeating until the queue is empty. Under light load a batch is one
// booking and nothing waits; under an on-sale one commit serves dozens of
// buyers. One writer, not several: at the concurrency of an open-loop sale,
// four writers split the stream into transactions of one or two bookings,
// whose fixed cost (round trip, WAL flush) made Postgres the largest CPU
// user of the box (docs/benchmarks.md).
const (
	maxInsertFlushers = 1
	maxInsertBatch    = 64
	insertTimeout     = 10 * time.Second
)

var (
	qInsertBookings          = query("InsertBookings")
	qExplainUnwrittenBooking = query("ExplainUnwrittenBooking")
)

// insertRequest is one booking waiting to be written.
type insertRequest struct {
	booking        *ticketing.Booking
	idempotencyKey string
	tenantID       string
	actor          ticketing.Actor
	done           chan error
	written        bool       // by the last send
	span           trace.Span // the request's, which the commit links to
}

// InsertBooking records a pending booking with its items and seats, all or
// nothing. It returns ErrBookingExists for a booking id or idempotency key
// already used, SEAT_UNAVAILABLE when another pending booking holds one of
// the seats, and SALES_CLOSED when the event stopped selling.
//
// The booking is checked before it joins a batch, so that what Postgres
// would refuse is refused here, and a booking that the batch leaves out (a
// key used before, a seat taken, the event closed) is explained by its own
// request, in its own goroutine: the serial writer spends no time on it.
func (s *BookingStore) InsertBooking(ctx context.Context, b *ticketing.Booking, idempotencyKey string) error {
	actor, _ := ticketing.ActorFromContext(ctx)
	r := &insertRequest{booking: b, idempotencyKey: idempotencyKey,
		tenantID: ticketing.TenantFromContext(ctx).ID, actor: actor, done: make(chan error, 1), span: trace.SpanFromContext(ctx)}
	if err := r.check(); err != nil {
		return err
	}
	s.inserts.Add(r)
	err := <-r.done
	if errors.Is(err, errNotWritten) {
		return s.explainUnwritten(ctx, r)
	}
	return err
}

// errNotWritten answers a booking that its batch left out.
var errNotWritten = errors.New("postgres: booking not written")

// check refuses a booking that the insert would fail on: every id a uuid,
// quantities and prices that fit their columns, an idempotency key that is
// text Postgres takes. A booking that fails its batch for a reason not
// checked here is isolated by writeBatch.
func (r *insertRequest) check() error {
	b := r.booking
	bad := func(what string) error {
		// The booking service builds bookings from the catalog: a bad one is
		// a bug, not the buyer's request.
		return ticketing.Internal(fmt.Errorf("postgres: booking %s: bad %s", b.ID, what))
	}
	switch {
	case r.tenantID == "" || !validUUID(r.tenantID):
		return bad("tenant")
	case !validUUID(b.ID) || !validUUID(b.EventID) || !validUUID(r.actor.UserID):
		return bad("id")
	case len(b.Items) == 0 || b.Total < 0 || len(b.Currency) != 3 || b.ExpiresAt.IsZero():
		return bad("booking")
	}
	for _, it := range b.Items {
		if !validUUID(it.TicketTypeID) || it.Quantity < 1 || it.Quantity > math.MaxInt32 || it.UnitPrice < 0 {
			return bad("item")
		}
		for _, seat := range it.SeatIDs {
			if !validUUID(seat) {
				return bad("seat")
			}
		}
	}
	if !ticketing.ValidKey(r.idempotencyKey) {
		return ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation,
			"Idempotency-Key must be at most %d characters of printable text", ticketing.MaxIdempotencyKeyBytes)
	}
	return nil
}

func validUUID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil
}

// ObserveCommits has f told the number of bookings and the duration of each
// group commit (including a failed batch's rewrite in parts): the writer is
// serial, so its time per booking is what caps the bookings per second of an
// instance. Call it before the store is used.
func (s *BookingStore) ObserveCommits(f func(bookings int, took time.Duration)) {
	s.commits = f
}

// writeBatch writes a batch in one implicit transaction. The statement
// leaves out a booking whose event stopped selling, whose id or key exists,
// or whose seat another booking holds, and the others are written; its
// request then learns why (errNotWritten). A batch that fails all the same
// (a seat taken by a booking committing at that moment, or anything
// unforeseen) is halved and each half written again, so a failing booking
// is isolated in a few transactions while the rest are still written
// together, and none fails for another's sake.
func (s *BookingStore) writeBatch(batch []*insertRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
	defer cancel()
	ctx, span := commitSpan(ctx, batch)
	defer span.End()
	if s.commits != nil {
		defer func(n int, start time.Time) { s.commits(n, time.Since(start)) }(len(batch), time.Now())
	}
	s.write(ctx, batch)
}

func (s *BookingStore) write(ctx context.Context, batch []*insertRequest) {
	err := s.send(ctx, batch)
	switch {
	case err == nil:
		for _, r := range batch {
			if r.written {
				r.done <- nil
			} else {
				r.done <- errNotWritten
			}
		}
	case len(batch) == 1 || ctx.Err() != nil:
		for _, r := range batch {
			r.done <- s.explain(err)
		}
	default:
		half := len(batch) / 2
		s.write(ctx, batch[:half])
		s.write(ctx, batch[half:])
	}
}

// explainUnwritten says why a batch left a booking out: its id or key
// exists, a seat is taken, or the event stopped selling (or the buyer is no
// user of the tenant, which signing in rules out). The explanation is read
// after the batch: a seat taken then may be free again (its booking expired
// meanwhile), so a seated booking of an event still selling was refused for
// its seat.
func (s *BookingStore) explainUnwritten(ctx context.Context, r *insertRequest) error {
	var seats []string
	for _, it := range r.booking.Items {
		seats = append(seats, it.SeatIDs...)
	}
	var exists, seatTaken, selling bool
	// As the system actor "booking" that wrote it: the seats of other
	// buyers' bookings count.
	ctx = ticketing.WithActor(ctx, ticketing.SystemActor("booking"))
	err := s.db.WithTenant(ctx, r.tenantID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, qExplainUnwrittenBooking, r.booking.ID, r.actor.UserID, nullIfEmpty(r.idempotencyKey),
			r.booking.EventID, seats).Scan(&exists, &seatTaken, &selling)
	})
	switch {
	case err != nil:
		return translate(err, "booking")
	case exists:
		return ErrBookingExists
	case seatTaken, selling && len(seats) > 0:
		return errSeatTaken
	case !selling:
		return errEventStoppedSelling
	}
	return ticketing.Internal(fmt.Errorf("postgres: booking %s left out of its batch for no reason found", r.booking.ID))
}

var errSeatTaken = ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSeatUnavailable, "a seat you chose was just taken by another buyer")

// send writes the bookings of batch as one implicit transaction in one
// round trip: per tenant, the tenant's scope, then one statement writing
// its bookings with their items and seats. It marks the bookings written.
func (s *BookingStore) send(ctx context.Context, batch []*insertRequest) error {
	byTenant := map[string][]*insertRequest{}
	var tenants []string
	ids := make(map[string]bool, len(batch))
	for _, r := range batch {
		r.written = false
		if ids[r.booking.ID] {
			// A retry racing its first attempt: the statement writes one
			// booking per id, and the items of both would join it.
			continue
		}
		ids[r.booking.ID] = true
		if _, ok := byTenant[r.tenantID]; !ok {
			tenants = append(tenants, r.tenantID)
		}
		byTenant[r.tenantID] = append(byTenant[r.tenantID], r)
	}
	pb := &pgx.Batch{}
	for _, t := range tenants {
		queueTenantBookings(pb, t, byTenant[t])
	}
	br := s.db.Pool.SendBatch(ctx, pb)
	err := readTenantBookings(br, tenants, byTenant)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// queueTenantBookings queues the statements that write one tenant's
// bookings of a batch. Row-level security sees the tenant, and the system
// actor "booking" (each row names its buyer).
func queueTenantBookings(pb *pgx.Batch, tenantID string, rs []*insertRequest) {
	n := len(rs)
	ids, events, users := make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	totals, currencies, expires, keys := make([]int64, n), make([]string, n), make([]time.Time, n), make([]*string, n)
	var itBooking, itType []pgtype.UUID
	var itQty []int32
	var itPrice []int64
	var stBooking, stSeat []pgtype.UUID
	for i, r := range rs {
		b := r.booking
		id := uuidParam(b.ID)
		ids[i], events[i], users[i] = id, uuidParam(b.EventID), uuidParam(r.actor.UserID)
		totals[i], currencies[i], expires[i], keys[i] = b.Total, b.Currency, b.ExpiresAt, nullIfEmpty(r.idempotencyKey)
		for _, it := range b.Items {
			itBooking, itType = append(itBooking, id), append(itType, uuidParam(it.TicketTypeID))
			itQty, itPrice = append(itQty, int32(it.Quantity)), append(itPrice, it.UnitPrice)
			for _, seat := range it.SeatIDs {
				stBooking, stSeat = append(stBooking, id), append(stSeat, uuidParam(seat))
			}
		}
	}
	pb.Queue(qSetTenant, tenantID, "", ticketing.RoleSystem)
	pb.Queue(qInsertBookings, ids, events, users, totals, currencies, expires, keys,
		itBooking, itType, itQty, itPrice, stBooking, stSeat)
}

// uuidParam is id as a binary uuid parameter. Arrays of strings would be
// sent as text, each element quoted, which cost the one group-commit writer
// about 20 µs per booking (docs/benchmarks.md). The ids were validated where
// they came in; one that does not parse is sent as NULL, which no column
// accepts.
func uuidParam(id string) pgtype.UUID {
	u, err := uuid.Parse(id)
	return pgtype.UUID{Bytes: u, Valid: err == nil}
}

// readTenantBookings reads the results queueTenantBookings queued, marking
// the bookings written and filling in their timestamps.
func readTenantBookings(br pgx.BatchResults, tenants []string, byTenant map[string][]*insertRequest) error {
	for _, t := range tenants {
		rs := byTenant[t]
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		byID := make(map[string]*insertRequest, len(rs))
		for _, r := range rs {
			byID[r.booking.ID] = r
		}
		for rows.Next() {
			var id string
			var created, updated time.Time
			if err := rows.Scan(&id, &created, &updated); err != nil {
				rows.Close()
				return err
			}
			if r := byID[id]; r != nil {
				r.booking.CreatedAt, r.booking.UpdatedAt = created, updated
				r.written = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// explain turns the error of a single booking's insert into the answer.
func (s *BookingStore) explain(err error) error {
	switch {
	case err == nil:
		return nil
	case isUniqueViolation(err, bookingPrimaryKey), isUniqueViolation(err, bookingIdempotencyKey):
		return ErrBookingExists
	case isUniqueViolation(err, bookingSeatsActiveKey):
		return errSeatTaken
	}
	return translate(err, "booking")
}
