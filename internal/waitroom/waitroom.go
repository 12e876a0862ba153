// Package waitroom is the virtual waiting room in front of an event's
// bookings (issue 15): organizers configure a room per event (kept in
// Postgres, cached per process like the sale), buyers join its queue in
// Redis and get a signed token, and admissions are computed lazily by one
// Lua script from the time elapsed and the admission rate, on every join,
// status and booking check: no goroutine ticks.
//
// Order is fair: visitors who join before the room opens are drawn at random
// among themselves (arriving early by a millisecond buys nothing), every
// later visitor after all of them in arrival order, and the script admits
// strictly in queue order.
//
// Redis is the only state of the queue. When it is lost, the queue restarts:
// a status answers ticketing.ErrNotQueued and the client joins again, and a
// booking needs an admission from the new queue. Nobody can book more than
// their limits meanwhile: those are enforced by the inventory's hold script,
// rebuilt from Postgres.
package waitroom

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ticketd-io/ticketd/internal/cache"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Store keeps rooms' configuration (postgres.WaitingRoomStore): FindRoom
// and DeleteRoom answer NotFound for an event without a room.
type Store interface {
	SaveRoom(ctx context.Context, r ticketing.WaitingRoom) (*ticketing.WaitingRoom, error)
	FindRoom(ctx context.Context, eventID string) (*ticketing.WaitingRoom, error)
	DeleteRoom(ctx context.Context, eventID string) error
}

// Stock tells what is left of an event (booking.Service): the room stops
// admitting when nothing is available.
type Stock interface {
	Availability(ctx context.Context, eventID string) ([]ticketing.Stock, error)
}

// Observer hears what the rooms do (telemetry.Metrics).
type Observer interface {
	// RoomJoined counts a visitor who joined a queue.
	RoomJoined()
	// RoomAdmitted counts admitted visitors by how long each waited.
	RoomAdmitted(waits []time.Duration)
	// RoomWaiting reports how many visitors wait in the queue of room (an
	// opaque key, never a label).
	RoomWaiting(room string, waiting int)
}

// Config tunes the rooms.
type Config struct {
	// AutoMinPerMinute and AutoMaxPerMinute bound the auto rate.
	AutoMinPerMinute, AutoMaxPerMinute int
	// CacheTTL is how long a room's configuration is cached per process
	// (SALE_CACHE_TTL).
	CacheTTL time.Duration
}

// soldOutTTL is how long this process believes an event's stock check:
// one availability read per event per second, whatever the traffic.
const soldOutTTL = time.Second

// Service implements ticketing.WaitingRoomService.
type Service struct {
	store  Store
	queue  *Queue
	signer *Signer
	stock  Stock
	obs    Observer
	logger *slog.Logger
	cfg    Config
	now    func() time.Time

	rooms   *cache.Cache[*ticketing.WaitingRoom] // tenant|event → the room, nil: none
	soldOut sync.Map                             // tenant|event → soldOutEntry
}

var _ ticketing.WaitingRoomService = (*Service)(nil)

type soldOutEntry struct {
	soldOut bool
	expires time.Time
}

// New returns a Service. stock and obs may be nil.
func New(store Store, queue *Queue, signer *Signer, stock Stock, obs Observer, logger *slog.Logger, cfg Config) *Service {
	return &Service{store: store, queue: queue, signer: signer, stock: stock, obs: obs, logger: logger, cfg: cfg, now: time.Now,
		rooms: cache.New[*ticketing.WaitingRoom](cfg.CacheTTL, 10*time.Second)}
}

// Share has the other processes forget a room's cached configuration when
// it changes here, and this one forget what they change, through bus; call
// it before the Service is used.
func (s *Service) Share(bus cache.Bus) { s.rooms.Share(bus, "room") }

// SetClock replaces the clock (tests); call it before the Service is used.
func (s *Service) SetClock(now func() time.Time) {
	s.now = now
	s.rooms.SetClock(now)
}

func cacheKey(ctx context.Context, eventID string) string {
	return ticketing.TenantFromContext(ctx).ID + "|" + eventID
}

// room returns the cached configuration of an event's room, nil when it has
// none (package cache: reloaded in the background once older than the TTL).
func (s *Service) room(ctx context.Context, eventID string) (*ticketing.WaitingRoom, error) {
	if !ticketing.ValidID(eventID) {
		return nil, nil
	}
	return s.rooms.Get(ctx, cacheKey(ctx, eventID), func(ctx context.Context) (*ticketing.WaitingRoom, error) {
		r, err := s.store.FindRoom(ctx, eventID)
		if ticketing.ErrorKind(err) == ticketing.KindNotFound {
			return nil, nil
		}
		return r, err
	})
}

// ConfigureRoom implements ticketing.WaitingRoomService.
func (s *Service) ConfigureRoom(ctx context.Context, r ticketing.WaitingRoom) (*ticketing.WaitingRoom, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if !ticketing.ValidID(r.EventID) {
		return nil, ticketing.NotFound("event")
	}
	out, err := s.store.SaveRoom(ctx, r)
	if err != nil {
		s.rooms.Invalidate(cacheKey(ctx, r.EventID))
		return nil, err
	}
	s.rooms.Changed(cacheKey(ctx, r.EventID))
	return out, nil
}

// FindRoom implements ticketing.WaitingRoomService.
func (s *Service) FindRoom(ctx context.Context, eventID string) (*ticketing.WaitingRoom, error) {
	return s.store.FindRoom(ctx, eventID)
}

// DeleteRoom implements ticketing.WaitingRoomService. The room's queue goes
// with it.
func (s *Service) DeleteRoom(ctx context.Context, eventID string) error {
	if err := s.store.DeleteRoom(ctx, eventID); err != nil {
		return err
	}
	s.rooms.Changed(cacheKey(ctx, eventID))
	if err := s.queue.Drop(ctx, ticketing.TenantFromContext(ctx).ID, eventID); err != nil {
		return ticketing.Internal(err)
	}
	return nil
}

// openRoom returns the enabled room of an event as the queue script takes
// it, else ErrRoomDisabled.
func (s *Service) openRoom(ctx context.Context, eventID string, now time.Time) (Room, error) {
	r, err := s.room(ctx, eventID)
	if err != nil {
		return Room{}, err
	}
	if r == nil || !r.Enabled {
		return Room{}, ticketing.ErrRoomDisabled
	}
	return Room{TenantID: ticketing.TenantFromContext(ctx).ID, EventID: eventID, OpensAt: r.OpensAt,
		AdmitPerMinute: r.AdmitPerMinute, AutoMin: s.cfg.AutoMinPerMinute, AutoMax: s.cfg.AutoMaxPerMinute,
		Window: r.AdmissionWindow, SoldOut: !now.Before(r.OpensAt) && s.isSoldOut(ctx, eventID, now)}, nil
}

// isSoldOut reports whether nothing of the event is available, from a
// check at most soldOutTTL old. A failed check is not sold out: the room
// keeps admitting, and the inventory refuses what it cannot sell.
func (s *Service) isSoldOut(ctx context.Context, eventID string, now time.Time) bool {
	if s.stock == nil {
		return false
	}
	key := cacheKey(ctx, eventID)
	if e, ok := s.soldOut.Load(key); ok && now.Before(e.(soldOutEntry).expires) {
		return e.(soldOutEntry).soldOut
	}
	stock, err := s.stock.Availability(ctx, eventID)
	out := err == nil && len(stock) > 0
	for _, st := range stock {
		if st.Available > 0 {
			out = false
		}
	}
	s.soldOut.Store(key, soldOutEntry{soldOut: out, expires: now.Add(soldOutTTL)})
	return out
}

// Join implements ticketing.WaitingRoomService.
func (s *Service) Join(ctx context.Context, eventID string) (ticketing.QueueStatus, string, error) {
	now := s.now()
	room, err := s.openRoom(ctx, eventID, now)
	if err != nil {
		return ticketing.QueueStatus{}, "", err
	}
	actor, _ := ticketing.ActorFromContext(ctx)
	p, adm, err := s.queue.Join(ctx, room, now, actor.UserID)
	s.observe(room, p, adm)
	if err != nil {
		return ticketing.QueueStatus{}, "", ticketing.Internal(err)
	}
	if p.New && s.obs != nil {
		s.obs.RoomJoined()
	}
	return statusOf(p, room, now), s.signer.Sign(room.TenantID, eventID, actor.UserID, p.Visitor), nil
}

// Status implements ticketing.WaitingRoomService.
func (s *Service) Status(ctx context.Context, eventID, token string) (ticketing.QueueStatus, error) {
	now := s.now()
	p, room, err := s.place(ctx, eventID, token, now)
	if err != nil {
		return ticketing.QueueStatus{}, err
	}
	return statusOf(p, room, now), nil
}

// place verifies token and returns its visitor's place.
func (s *Service) place(ctx context.Context, eventID, token string, now time.Time) (Place, Room, error) {
	actor, _ := ticketing.ActorFromContext(ctx)
	visitor, err := s.signer.Verify(token, ticketing.TenantFromContext(ctx).ID, eventID, actor.UserID)
	if err != nil {
		return Place{}, Room{}, err
	}
	room, err := s.openRoom(ctx, eventID, now)
	if err != nil {
		return Place{}, Room{}, err
	}
	p, found, adm, err := s.queue.Status(ctx, room, now, visitor)
	s.observe(room, p, adm)
	if err != nil {
		return Place{}, Room{}, ticketing.Internal(err)
	}
	if !found {
		return Place{}, Room{}, ticketing.ErrNotQueued
	}
	return p, room, nil
}

// CheckAdmission implements ticketing.WaitingRoomService.
func (s *Service) CheckAdmission(ctx context.Context, eventID, token string) (bool, error) {
	now := s.now()
	r, err := s.room(ctx, eventID)
	if err != nil {
		return false, err
	}
	if !r.Gates(now) {
		return false, nil
	}
	if token == "" {
		return true, ticketing.ErrAdmissionRequired
	}
	p, _, err := s.place(ctx, eventID, token, now)
	switch {
	case errors.Is(err, ticketing.ErrNotQueued), errors.Is(err, ticketing.ErrRoomDisabled):
		return true, ticketing.ErrAdmissionRequired
	case err != nil:
		return true, err
	case !p.Until.After(now):
		return true, ticketing.ErrAdmissionRequired
	}
	return true, nil
}

// Booked implements ticketing.WaitingRoomService.
func (s *Service) Booked(ctx context.Context, eventID, bookingID string) {
	now := s.now()
	room, err := s.openRoom(ctx, eventID, now)
	if err != nil {
		return
	}
	adm, err := s.queue.Booked(ctx, room, now, bookingID)
	s.observe(room, Place{}, adm)
	if err != nil {
		s.logger.WarnContext(ctx, "recording a booking in the waiting room", "event", eventID, "error", err.Error())
	}
}

func (s *Service) observe(room Room, p Place, adm Admission) {
	if s.obs == nil {
		return
	}
	if len(adm.Waits) > 0 {
		s.obs.RoomAdmitted(adm.Waits)
	}
	if p.Visitor != "" {
		s.obs.RoomWaiting(room.TenantID+"|"+room.EventID, max(p.Length-p.Admitted, 0))
	}
}

// statusOf converts a place to what the visitor is told.
func statusOf(p Place, room Room, now time.Time) ticketing.QueueStatus {
	st := ticketing.QueueStatus{Position: p.Rank + 1, Ahead: max(p.Rank-p.Admitted, 0), AdmitPerMinute: p.Rate}
	var wait time.Duration
	switch {
	case !p.Opened:
		st.State, st.Ahead = ticketing.QueueBeforeOpen, p.Rank
		wait = room.OpensAt.Sub(now)
	case p.Until.After(now):
		st.State, st.Admitted, st.AdmittedUntil, st.Ahead = ticketing.QueueAdmitted, true, p.Until, 0
	case p.Rank < p.Admitted:
		st.State, st.Ahead = ticketing.QueueExpired, 0
	case p.SoldOut:
		st.State = ticketing.QueueSoldOut
	default:
		st.State = ticketing.QueueWaiting
	}
	if p.Rate > 0 && st.Ahead > 0 {
		wait += time.Duration(float64(st.Ahead) / float64(p.Rate) * float64(time.Minute))
	}
	st.EstimatedWaitSeconds = int(math.Ceil(max(wait, 0).Seconds()))
	return st
}
