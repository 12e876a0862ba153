package postgres

import (
	"context"
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
	qInsertBookings = query("InsertBookings")
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
func (s *BookingStore) InsertBooking(ctx context.Context, b *ticketing.Booking, idempotencyKey string) error {
	actor, _ := ticketing.ActorFromContext(ctx)
	r := &insertRequest{booking: b, idempotencyKey: idempotencyKey,
		tenantID: ticketing.TenantFromContext(ctx).ID, actor: actor, done: make(chan error, 1), span: trace.SpanFromContext(ctx)}
	s.inserts.Add(r)
	return <-r.done
}

// ObserveCommits has f told the number of bookings and the duration of each
// group commit (including a failed batch's rewrite one by one): the writer is
// serial, so its time per booking is what caps the bookings per second of an
// instance. Call it before the store is used.
func (s *BookingStore) ObserveCommits(f func(bookings int, took time.Duration)) {
	s.commits = f
}

// writeBatch writes a batch in one implicit transaction. A booking whose
// event stopped selling is left out of it; if the batch fails (a seat taken,
// a retry of an existing booking: both rare), nothing of it is written. Each
// booking not written is then written alone, so that each gets its own
// answer and no booking fails for another's sake.
func (s *BookingStore) writeBatch(batch []*insertRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
	defer cancel()
	ctx, span := commitSpan(ctx, batch)
	defer span.End()
	if s.commits != nil {
		defer func(n int, start time.Time) { s.commits(n, time.Since(start)) }(len(batch), time.Now())
	}
	if len(batch) > 1 && s.send(ctx, batch) == nil {
		var rest []*insertRequest
		for _, r := range batch {
			if r.written {
				r.done <- nil
			} else {
				rest = append(rest, r)
			}
		}
		batch = rest
	}
	for _, r := range batch {
		r.done <- s.writeOne(ctx, r)
	}
}

// writeOne writes one booking and explains the outcome. The insert leaves
// out a booking whose event stopped selling (or whose buyer is no user of
// the tenant, which signing in rules out).
func (s *BookingStore) writeOne(ctx context.Context, r *insertRequest) error {
	err := s.send(ctx, []*insertRequest{r})
	if err == nil && !r.written {
		return errEventStoppedSelling
	}
	return s.explain(err)
}

// send writes the bookings of batch as one implicit transaction in one
// round trip: per tenant, the tenant's scope, then one statement writing
// its bookings with their items and seats. It marks the bookings written.
func (s *BookingStore) send(ctx context.Context, batch []*insertRequest) error {
	byTenant := map[string][]*insertRequest{}
	var tenants []string
	for _, r := range batch {
		r.written = false
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
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSeatUnavailable, "a seat you chose was just taken by another buyer")
	}
	return translate(err, "booking")
}
