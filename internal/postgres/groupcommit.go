package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Booking inserts are the hot path of an on-sale, and their commits queue on
// Postgres's WAL. So they are group-committed: a request queues its insert;
// when fewer than maxInsertFlushers are writing, it becomes a flusher and
// writes every queued insert (up to maxInsertBatch) as one implicit
// transaction in one round trip, repeating until the queue is empty. Under
// light load a batch is one booking and nothing waits; under an on-sale one
// commit serves dozens of buyers.
const (
	maxInsertFlushers = 4
	maxInsertBatch    = 64
	insertTimeout     = 10 * time.Second
)

// insertRequest is one booking waiting to be written.
type insertRequest struct {
	booking        *ticketing.Booking
	idempotencyKey string
	tenantID       string
	actor          ticketing.Actor
	done           chan error
}

// groupCommit queues requests and runs at most flushers writers.
type groupCommit struct {
	flushers int
	write    func(batch []*insertRequest)

	mu      sync.Mutex
	pending []*insertRequest
	running int
}

// do queues r and returns its result.
func (g *groupCommit) do(r *insertRequest) error {
	g.mu.Lock()
	g.pending = append(g.pending, r)
	flush := g.running < g.flushers
	if flush {
		g.running++
	}
	g.mu.Unlock()
	if flush {
		g.flush()
	}
	return <-r.done
}

// flush writes queued batches until the queue is empty.
func (g *groupCommit) flush() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), maxInsertBatch)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := make([]*insertRequest, n)
		copy(batch, g.pending)
		g.pending = g.pending[n:]
		g.mu.Unlock()
		g.write(batch)
	}
}

// InsertBooking records a pending booking with its items and seats, all or
// nothing. It returns ErrBookingExists for a booking id or idempotency key
// already used, SEAT_UNAVAILABLE when another pending booking holds one of
// the seats, and SALES_CLOSED when the event stopped selling.
func (s *BookingStore) InsertBooking(ctx context.Context, b *ticketing.Booking, idempotencyKey string) error {
	actor, _ := ticketing.ActorFromContext(ctx)
	return s.inserts.do(&insertRequest{booking: b, idempotencyKey: idempotencyKey,
		tenantID: ticketing.TenantFromContext(ctx).ID, actor: actor, done: make(chan error, 1)})
}

// writeBatch writes a batch in one implicit transaction. If anything fails
// (a seat taken, an event no longer selling, a retry of an existing booking:
// all rare), it writes each booking alone, so that each gets its own answer
// and no booking fails for another's sake.
func (s *BookingStore) writeBatch(batch []*insertRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), insertTimeout)
	defer cancel()
	if len(batch) > 1 {
		if err := s.send(ctx, batch); err == nil {
			for _, r := range batch {
				r.done <- nil
			}
			return
		}
	}
	for _, r := range batch {
		r.done <- s.explain(s.send(ctx, []*insertRequest{r}))
	}
}

// send writes the bookings of batch, each after scoping row-level security
// to its tenant and buyer, as one implicit transaction in one round trip.
func (s *BookingStore) send(ctx context.Context, batch []*insertRequest) error {
	pb := &pgx.Batch{}
	for _, r := range batch {
		queueBooking(pb, r)
	}
	br := s.db.Pool.SendBatch(ctx, pb)
	var err error
	for _, r := range batch {
		if _, err = br.Exec(); err != nil {
			break
		}
		if err = br.QueryRow().Scan(&r.booking.CreatedAt, &r.booking.UpdatedAt); err != nil {
			break
		}
		for range statementsAfterInsert(r) {
			if _, err = br.Exec(); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// queueBooking queues the statements of one booking: the tenant, the
// booking (written only while its event sells), its items and its seats.
func queueBooking(pb *pgx.Batch, r *insertRequest) {
	b := r.booking
	types := make([]string, len(b.Items))
	quantities := make([]int32, len(b.Items))
	prices := make([]int64, len(b.Items))
	var seats []string
	for i, it := range b.Items {
		types[i], quantities[i], prices[i] = it.TicketTypeID, int32(it.Quantity), it.UnitPrice
		seats = append(seats, it.SeatIDs...)
	}
	pb.Queue(qSetTenant, r.tenantID, r.actor.UserID, r.actor.Role)
	pb.Queue(qInsertBooking, b.ID, b.EventID, r.actor.UserID, b.Total, b.Currency, b.ExpiresAt, nullIfEmpty(r.idempotencyKey))
	pb.Queue(qInsertBookingItems, b.ID, b.EventID, types, quantities, prices)
	if len(seats) > 0 {
		pb.Queue(qInsertBookingSeats, b.ID, b.EventID, seats)
	}
}

// statementsAfterInsert is how many statements follow the booking insert
// in queueBooking: the items, and the seats if any.
func statementsAfterInsert(r *insertRequest) []struct{} {
	for _, it := range r.booking.Items {
		if len(it.SeatIDs) > 0 {
			return make([]struct{}, 2)
		}
	}
	return make([]struct{}, 1)
}

// explain turns the error of a single booking's insert into the answer.
func (s *BookingStore) explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows), isViolation(err, codeForeignKeyViolation, bookingItemsBookingFKey):
		// The conditional insert wrote no booking: the event stopped selling.
		return errEventStoppedSelling
	case isUniqueViolation(err, bookingPrimaryKey), isUniqueViolation(err, bookingIdempotencyKey):
		return ErrBookingExists
	case isUniqueViolation(err, bookingSeatsActiveKey):
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSeatUnavailable, "a seat you chose was just taken by another buyer")
	}
	return translate(err, "booking")
}
