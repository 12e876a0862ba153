// Package inventory is the fast gate of ticket sales: per event, Redis holds
// the available, held and sold stock of every ticket type and the state of
// every seat, changed only by Lua scripts that check a whole request before
// writing any of it. Postgres stays the truth: when an event's keys are
// missing, they are rebuilt from a Loader under a lock.
//
// Key layout, one hash tag per event so that every script works on Redis
// Cluster (<p> is the Store's prefix, {t:e} the tenant and event ids):
//
//	<p>inv:{t:e}:meta      string: Redis time (ms) of the load; exists once loaded
//	<p>inv:{t:e}:kind      hash ticketTypeId → "g" (general admission) | "s" (seated)
//	<p>inv:{t:e}:cap       hash ticketTypeId → capacity
//	<p>inv:{t:e}:avail     hash ticketTypeId → available (free seats for seated types)
//	<p>inv:{t:e}:sold      hash ticketTypeId → sold
//	<p>inv:{t:e}:seats     hash seatId → "a" | "s" | "h:<holdId>"
//	<p>inv:{t:e}:seattype  hash seatId → ticketTypeId
//	<p>inv:{t:e}:holds     zset holdId scored by expiry (Unix ms)
//	<p>inv:{t:e}:holdinfo  hash holdId → "<nGA>\n(<ticketTypeId>\n<qty>\n)*(<seatId>\n)*"
//	<p>inv:{t:e}:seatver   counter of seat changes; kept across reloads (SeatVersion)
//	<p>inv:{t:e}:buyers    hash "t:<buyer>" → tickets the buyer holds or bought in the event,
//	                       "y:<buyer>:<ticketTypeId>" → the same per ticket type,
//	                       "o:<buyer>" → the buyer's live holds
//	<p>inv:{t:e}:holdbuyer hash holdId → buyer
//	<p>inv:{t:e}:limits    hash ticketTypeId → most tickets of it one buyer may have, "*" → of the event
//	<p>inv:{t:e}:keyed     hash "<buyer>\n<Idempotency-Key>" → booking id, for bookings made with a key
//	<p>inv:{t:e}:lock      string: rebuild lock, owner token with a TTL
//
// At rest, for every ticket type, available + held + sold = capacity, where
// held counts the quantities and seats of live holds; Verify checks it.
//
// A buyer's counts go up in the script that holds, in the same step that
// checks the limits, so concurrent requests of one buyer cannot pass a limit
// together. Releases and expiry take them down; a confirm keeps them (bought
// tickets count). A refund or void changes Postgres and drops the event, and
// the rebuild recounts every buyer from Postgres (live holds plus tickets
// that are not void), so a refunded ticket frees its place in the limit.
//
// The keyed hash answers retried and reused Idempotency-Keys without
// Postgres. A booking made with a key has an id derived from the key and
// the request, and its hold records that id under its buyer and key. A
// later hold with the same buyer and key is then either already held (the
// booking is pending, or its first attempt still runs), or ErrSeen (the
// same request, no longer held: the booking may exist, and only then does
// the caller look in Postgres), or ErrKeyReused (the key was used with
// another request), or new: a refusal of a new key needs no Postgres
// lookup, because no booking with it can exist in the event. A rebuild
// loads every keyed booking of the event, so the hash stays complete after
// a Redis loss; a hold whose booking was not written is released with
// ReleaseUnwritten, which forgets its key. KeyedBooking reads the hash
// without holding, for a retry refused before it may hold (the waiting
// room).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/pipeline"
)

// MaxHoldSize is the most GA items plus seats one hold may have; it bounds
// how long a hold script blocks Redis.
const MaxHoldSize = 100

// reclaimBatch is how many expired holds one explicit reclaim script frees.
const reclaimBatch = 1000

var (
	// ErrInvalidHold is returned by Hold for a malformed request: no id, no
	// expiry, no items, too many items, a non-positive quantity, a seat twice
	// or an id with a newline.
	ErrInvalidHold = errors.New("inventory: invalid hold")
	// ErrNotLoaded is returned when an event's keys are missing and could not
	// be rebuilt in time (another instance holds the rebuild lock, or the
	// Loader keeps failing).
	ErrNotLoaded = errors.New("inventory: event not loaded")
	// ErrOvercommitted is returned by a rebuild that finds more live holds
	// in Postgres than tickets: bookings whose holds a previous rebuild
	// left out are still deciding. Hold waits it out; Reassert, which such
	// a booking calls, gives up instead.
	ErrOvercommitted = errors.New("inventory: more holds than tickets")
	// ErrSeen is returned by Hold for a keyed hold whose id was held before
	// and is not held now: a booking with that id may exist (confirmed,
	// expired, cancelled), so the caller looks for it before holding again
	// with Unseen.
	ErrSeen = errors.New("inventory: keyed hold seen before")
	// ErrKeyReused is returned by Hold for a keyed hold whose buyer used
	// the key in this event with another request.
	ErrKeyReused = errors.New("inventory: idempotency key used with another request")
)

// Event scopes the keys of one event of one tenant.
type Event struct{ TenantID, EventID string }

// Item is a general-admission quantity of one ticket type.
type Item struct {
	TicketTypeID string
	Quantity     int
}

// Hold is one buyer's hold: its id (the booking id), expiry, GA items and
// seat ids.
type Hold struct {
	ID        string
	ExpiresAt time.Time
	Items     []Item
	Seats     []string
	// Buyer is the user the hold counts for (empty: nobody, and no limit).
	Buyer string
	// MaxOpenHolds is how many live holds Buyer may have in the event,
	// this one included (0: any number).
	MaxOpenHolds int
	// Unlimited counts the hold for Buyer without checking any limit: a
	// late payment that takes its tickets again is not refused for them.
	Unlimited bool
	// IdempotencyKey, when set, records the hold's id under Buyer and the
	// key in the event's keyed hash. Hold then returns, without holding,
	// ErrSeen when the key names this id and it is not held now, and
	// ErrKeyReused when the key names another id; unless Unseen.
	IdempotencyKey string
	// Unseen holds a keyed hold whatever its key names: the caller found no
	// booking with that id in Postgres.
	Unseen bool
}

// TicketTypeStock is a ticket type as a rebuild loads it. The capacity and
// sold count of a seated type are recounted from its seats.
type TicketTypeStock struct {
	ID       string
	Seated   bool
	Capacity int
	Sold     int
	// MaxPerBuyer is the most tickets of the type one buyer may hold or
	// own (0: no limit).
	MaxPerBuyer int
}

// Bought is what one buyer bought of one ticket type: tickets that are not
// void.
type Bought struct {
	Buyer, TicketTypeID string
	Count               int
}

// SeatStock is a seat of a seated ticket type; Sold when a ticket was issued
// for it.
type SeatStock struct {
	ID, TicketTypeID string
	Sold             bool
}

// Snapshot is the truth of one event, read from Postgres: stock and the holds
// of unexpired pending bookings.
type Snapshot struct {
	TicketTypes []TicketTypeStock
	Seats       []SeatStock
	Holds       []Hold
	Bought      []Bought
	// MaxPerBuyer is the most tickets of the event one buyer may hold or
	// own (0: no limit).
	MaxPerBuyer int
	// Keyed are the event's bookings made with an Idempotency-Key,
	// whatever their status (the keyed hash).
	Keyed []KeyedBooking
	// Settled are the holds whose sale is committed (counted in sold) but
	// that Redis had not confirmed yet: a confirmation of one of them after
	// the load has nothing left to do.
	Settled []string
}

// KeyedBooking is a booking made with an Idempotency-Key.
type KeyedBooking struct {
	ID, Buyer, IdempotencyKey string
}

// keyedField is the field of a buyer's key in the keyed hash; neither a
// user id nor a key has a newline.
func keyedField(buyer, key string) string { return buyer + "\n" + key }

// Loader reads a Snapshot (implemented by Postgres elsewhere).
type Loader interface {
	LoadInventory(ctx context.Context, ev Event) (*Snapshot, error)
}

// Unavailable is the error of a refused hold: the GA ticket types short of
// stock and the seats not available.
type Unavailable struct {
	SoldOut []string
	Seats   []string
}

// Error lists what was not available.
func (u *Unavailable) Error() string {
	var b strings.Builder
	b.WriteString("inventory: unavailable")
	if len(u.SoldOut) > 0 {
		b.WriteString(": sold out: ")
		b.WriteString(strings.Join(u.SoldOut, ", "))
	}
	if len(u.Seats) > 0 {
		if len(u.SoldOut) > 0 {
			b.WriteString(";")
		} else {
			b.WriteString(":")
		}
		b.WriteString(" seats: ")
		b.WriteString(strings.Join(u.Seats, ", "))
	}
	return b.String()
}

// Buyer limit kinds, as BuyerLimit.Kind names them.
const (
	// LimitOpenHolds is the number of live holds of one buyer in an event.
	LimitOpenHolds = "open"
	// LimitEvent is the tickets of an event one buyer may hold or own.
	LimitEvent = "event"
	// LimitTicketType is the tickets of one ticket type one buyer may hold
	// or own.
	LimitTicketType = "type"
)

// BuyerLimit is the error of a hold refused because its buyer would pass a
// limit: Kind names it, Limit is its value, Have what the buyer already has
// (live holds, or tickets held and bought), TicketTypeID the type of a
// LimitTicketType.
type BuyerLimit struct {
	Kind         string
	Limit, Have  int
	TicketTypeID string
}

// Error names the limit.
func (b *BuyerLimit) Error() string {
	if b.TicketTypeID != "" {
		return fmt.Sprintf("inventory: buyer limit %s %s: %d, has %d", b.Kind, b.TicketTypeID, b.Limit, b.Have)
	}
	return fmt.Sprintf("inventory: buyer limit %s: %d, has %d", b.Kind, b.Limit, b.Have)
}

// Stock is availability of one ticket type. Held = Capacity - Available - Sold.
type Stock struct {
	Capacity, Available, Held, Sold int
}

// SeatStatus is the state of one seat.
type SeatStatus string

// Seat states.
const (
	// SeatAvailable is a seat nobody holds or bought.
	SeatAvailable SeatStatus = "available"
	// SeatHeld is a seat in a live hold.
	SeatHeld SeatStatus = "held"
	// SeatSold is a seat with a ticket.
	SeatSold SeatStatus = "sold"
)

// Store keeps the inventory of events in Redis.
type Store struct {
	c      goredis.UniversalClient
	prefix string
	loader Loader
	// scripts sends the script calls of concurrent requests in one
	// pipeline (package pipeline): an on-sale's requests are one script
	// call each.
	scripts *pipeline.Scripts
}

// New returns a Store on client, a single node or a cluster client; prefix
// starts every key (it may be ""); loader rebuilds events whose keys are
// missing.
func New(client goredis.UniversalClient, prefix string, loader Loader) *Store {
	return &Store{c: client, prefix: prefix, loader: loader, scripts: pipeline.New(client)}
}

// keySet holds the keys of one event: data are the KEYS of the scripts, in
// the order of common.lua.
type keySet struct {
	data []string
	lock string
}

var keyNames = [...]string{"meta", "kind", "cap", "avail", "sold", "seats", "seattype", "holds", "holdinfo", "seatver",
	"buyers", "holdbuyer", "limits", "keyed", "settled"}

// Indexes in keyNames. Every key but keySeatVer is the event's state, which
// a drop or rebuild deletes; the seat version counter stays, so that a
// version never names two states.
const (
	keyHoldInfo = 8
	keySeatVer  = 9
	keyBuyers   = 10
)

// state returns the keys a drop or rebuild deletes.
func (ks keySet) state() []string {
	return append(append([]string{}, ks.data[:keySeatVer]...), ks.data[keySeatVer+1:]...)
}

func (s *Store) keys(ev Event) (keySet, error) {
	if ev.TenantID == "" || ev.EventID == "" || strings.ContainsAny(ev.TenantID+ev.EventID, "{}") {
		// A brace would move the hash tag and split the event across slots.
		return keySet{}, fmt.Errorf("inventory: bad event %q/%q", ev.TenantID, ev.EventID)
	}
	base := s.prefix + "inv:{" + ev.TenantID + ":" + ev.EventID + "}:"
	ks := keySet{data: make([]string, len(keyNames)), lock: base + "lock"}
	for i, n := range keyNames {
		ks.data[i] = base + n
	}
	return ks, nil
}

// notLoaded is the status every script answers when meta is missing.
const notLoaded = -1

// Statuses of the hold script: refused by a buyer limit, a keyed id seen
// before, a key used with another request.
const (
	limited = 3
	seen    = 4
	reused  = 5
)

// run runs a script that answers {status, ...}; when the event is not loaded
// it rebuilds the event from the Loader and runs the script again.
func (s *Store) run(ctx context.Context, ev Event, ks keySet, script *goredis.Script, args ...any) ([]any, error) {
	return s.runWaiting(ctx, ev, ks, true, script, args...)
}

// runWaiting is run; with wait, a rebuild that finds Postgres overcommitted
// is retried until the deciding bookings resolve, else ErrOvercommitted is
// returned at once.
func (s *Store) runWaiting(ctx context.Context, ev Event, ks keySet, wait bool, script *goredis.Script, args ...any) ([]any, error) {
	deadline := time.Now().Add(loadWait)
	for {
		res, err := s.scripts.Run(ctx, script, ks.data, args...).Slice()
		if err != nil {
			return nil, err
		}
		if status(res) != notLoaded {
			return res, nil
		}
		if time.Now().After(deadline) {
			// Dropped again after every rebuild for seconds: give up.
			return nil, ErrNotLoaded
		}
		err = s.load(ctx, ev, ks, false)
		switch {
		case errors.Is(err, errLockLost):
			// Another loader has it, or nobody: look again.
		case errors.Is(err, ErrOvercommitted) && wait:
			if err := sleep(ctx, loadPoll); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Hold holds every item and seat of h, or nothing: when anything is short it
// returns *Unavailable naming all of it. It is idempotent: when h.ID is
// already held it returns nil and changes nothing. Expired holds are
// reclaimed first.
func (s *Store) Hold(ctx context.Context, ev Event, h Hold) error {
	return s.hold(ctx, ev, h, true)
}

// HeldNow reports, for each hold id, whether Redis holds it now, in one
// round trip for all of them: the cheap first step of a fence, which needs
// Reassert only for the holds it reports missing.
func (s *Store) HeldNow(ctx context.Context, evs []Event, holdIDs []string) ([]bool, error) {
	cmds := make([]*goredis.BoolCmd, len(evs))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, ev := range evs {
			ks, err := s.keys(ev)
			if err != nil {
				return err
			}
			cmds[i] = p.HExists(ctx, ks.data[keyHoldInfo], holdIDs[i])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: held now: %w", err)
	}
	out := make([]bool, len(evs))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// Reassert holds h again after its booking was written to Postgres: a no-op
// while Redis kept the hold, and a fresh hold if Redis lost it meanwhile.
// Unlike Hold it does not wait for a rebuild that finds Postgres holding
// more than there is, because the booking calling it is the one that must
// give way: the bookings whose holds Redis has are already answered.
func (s *Store) Reassert(ctx context.Context, ev Event, h Hold) error {
	h.Unseen = true // the booking was written: its id names it
	err := s.hold(ctx, ev, h, false)
	if errors.Is(err, ErrOvercommitted) {
		u := &Unavailable{Seats: h.Seats}
		for _, it := range h.Items {
			u.SoldOut = append(u.SoldOut, it.TicketTypeID)
		}
		return u
	}
	return err
}

func (s *Store) hold(ctx context.Context, ev Event, h Hold, wait bool) error {
	items, seats, err := normalize(h)
	if err != nil {
		return err
	}
	ks, err := s.keys(ev)
	if err != nil {
		return err
	}
	check, keyed := "1", ""
	if h.Unlimited {
		check = "0"
	}
	switch {
	case h.IdempotencyKey != "" && h.Unseen:
		keyed = "r" + keyedField(h.Buyer, h.IdempotencyKey)
	case h.IdempotencyKey != "":
		keyed = "k" + keyedField(h.Buyer, h.IdempotencyKey)
	}
	args := make([]any, 0, 7+2*len(items)+len(seats))
	args = append(args, h.ID, strconv.FormatInt(h.ExpiresAt.UnixMilli(), 10), h.Buyer, check, strconv.Itoa(max(h.MaxOpenHolds, 0)),
		keyed, strconv.Itoa(len(items)))
	for _, it := range items {
		args = append(args, it.TicketTypeID, strconv.Itoa(it.Quantity))
	}
	for _, seat := range seats {
		args = append(args, seat)
	}
	for reclaimed := false; ; reclaimed = true {
		res, err := s.runWaiting(ctx, ev, ks, wait, holdScript, args...)
		if err != nil {
			return fmt.Errorf("inventory: hold %s: %w", h.ID, err)
		}
		switch status(res) {
		case 0:
		case seen:
			return ErrSeen
		case reused:
			return ErrKeyReused
		case limited:
			if !reclaimed && asInt(res, 5) == 1 {
				// The buyer's expired holds may still count: free them and
				// look again.
				if _, err := s.Reclaim(ctx, ev); err != nil {
					return err
				}
				continue
			}
			return &BuyerLimit{Kind: asString(res, 1), Limit: asInt(res, 2), Have: asInt(res, 3), TicketTypeID: asString(res, 4)}
		default:
			return nil
		}
		if more := asInt(res, 1); more == 1 && !reclaimed {
			// The lazy reclaim stopped at its limit: free every expired
			// hold, then try once more before refusing.
			if _, err := s.Reclaim(ctx, ev); err != nil {
				return err
			}
			continue
		}
		return unavailable(res)
	}
}

// normalize checks h and merges GA items of the same ticket type.
func normalize(h Hold) ([]Item, []string, error) {
	switch {
	case h.ID == "" || strings.Contains(h.ID, "\n"):
		return nil, nil, fmt.Errorf("%w: bad id %q", ErrInvalidHold, h.ID)
	case h.Buyer != "" && (strings.ContainsAny(h.Buyer, "\n:")):
		return nil, nil, fmt.Errorf("%w: bad buyer %q", ErrInvalidHold, h.Buyer)
	case h.IdempotencyKey != "" && (h.Buyer == "" || strings.Contains(h.IdempotencyKey, "\n")):
		return nil, nil, fmt.Errorf("%w: a key needs a buyer and no newline", ErrInvalidHold)
	case h.ExpiresAt.IsZero():
		return nil, nil, fmt.Errorf("%w: no expiry", ErrInvalidHold)
	case len(h.Items)+len(h.Seats) == 0:
		return nil, nil, fmt.Errorf("%w: nothing to hold", ErrInvalidHold)
	case len(h.Items)+len(h.Seats) > MaxHoldSize:
		return nil, nil, fmt.Errorf("%w: %d items and seats, at most %d", ErrInvalidHold, len(h.Items)+len(h.Seats), MaxHoldSize)
	}
	items := make([]Item, 0, len(h.Items))
	index := make(map[string]int, len(h.Items))
	for _, it := range h.Items {
		if it.Quantity <= 0 || !goodID(it.TicketTypeID) {
			return nil, nil, fmt.Errorf("%w: item %q × %d", ErrInvalidHold, it.TicketTypeID, it.Quantity)
		}
		if i, ok := index[it.TicketTypeID]; ok {
			items[i].Quantity += it.Quantity
			continue
		}
		index[it.TicketTypeID] = len(items)
		items = append(items, it)
	}
	seen := make(map[string]bool, len(h.Seats))
	for _, seat := range h.Seats {
		if !goodID(seat) || seen[seat] {
			return nil, nil, fmt.Errorf("%w: seat %q", ErrInvalidHold, seat)
		}
		seen[seat] = true
	}
	return items, h.Seats, nil
}

// goodID reports whether id can be stored in a holdinfo value, whose fields
// are separated by newlines.
func goodID(id string) bool {
	return id != "" && !strings.Contains(id, "\n")
}

// unavailable builds the error of a refused hold from the hold script's
// answer {0, more, nTypes, types..., seats...}.
func unavailable(res []any) error {
	n := asInt(res, 2)
	u := &Unavailable{}
	for i := 3; i < len(res); i++ {
		v, _ := res[i].(string)
		if i < 3+n {
			u.SoldOut = append(u.SoldOut, v)
		} else {
			u.Seats = append(u.Seats, v)
		}
	}
	return u
}

// Release returns the inventory of a hold once: true only for the call that
// released it; false when the hold is unknown, already released or reclaimed.
func (s *Store) Release(ctx context.Context, ev Event, holdID string) (bool, error) {
	return s.release(ctx, ev, holdID)
}

// ReleaseUnwritten releases the hold of a booking that was not written, and
// forgets that its buyer's key named it.
func (s *Store) ReleaseUnwritten(ctx context.Context, ev Event, h Hold) (bool, error) {
	if h.IdempotencyKey == "" {
		return s.release(ctx, ev, h.ID)
	}
	return s.release(ctx, ev, h.ID, keyedField(h.Buyer, h.IdempotencyKey))
}

func (s *Store) release(ctx context.Context, ev Event, holdID string, args ...any) (bool, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return false, err
	}
	res, err := s.run(ctx, ev, ks, releaseScript, append([]any{holdID}, args...)...)
	if err != nil {
		return false, fmt.Errorf("inventory: release %s: %w", holdID, err)
	}
	return status(res) == 1, nil
}

// KeyedBooking returns the id of the booking that buyer's Idempotency-Key
// named in the event, "" when it named none: one short read-only script,
// so asking about a key nobody used costs no Postgres read. An event that
// is not loaded is rebuilt first (the keyed hash is rebuilt with it), so
// the answer holds after a Redis loss.
func (s *Store) KeyedBooking(ctx context.Context, ev Event, buyer, key string) (string, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return "", err
	}
	res, err := s.run(ctx, ev, ks, keyedScript, keyedField(buyer, key))
	if err != nil {
		return "", fmt.Errorf("inventory: keyed booking: %w", err)
	}
	return asString(res, 1), nil
}

// Confirm turns a hold into sold tickets and seats, once. It reports whether
// Redis counts the hold's tickets sold now: by this call, by an earlier one
// (within the last ten minutes, and since the event was last loaded), or by the
// load that rebuilt the event from a snapshot where the sale was committed
// (the snapshot's Settled). False means the hold no longer exists and its
// sale is not counted: expired and reclaimed, released, or lost with
// Redis's data and rebuilt from a snapshot older than the sale. Two
// verifications of one payment that both confirm its hold therefore do not
// make the event rebuilt.
func (s *Store) Confirm(ctx context.Context, ev Event, holdID string) (bool, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return false, err
	}
	res, err := s.run(ctx, ev, ks, confirmScript, holdID)
	if err != nil {
		return false, fmt.Errorf("inventory: confirm %s: %w", holdID, err)
	}
	return status(res) == 1 || status(res) == 2, nil
}

// Reclaim releases every hold whose ExpiresAt has passed by Redis server
// time and returns how many it released. An event that is not loaded has
// nothing to reclaim.
func (s *Store) Reclaim(ctx context.Context, ev Event) (int, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		res, err := reclaimScript.Run(ctx, s.c, ks.data, reclaimBatch).Slice()
		if err != nil {
			return total, fmt.Errorf("inventory: reclaim: %w", err)
		}
		total += asInt(res, 0)
		if asInt(res, 1) == 0 {
			return total, nil
		}
	}
}

// Availability returns the stock of every ticket type of the event by id,
// after reclaiming expired holds.
func (s *Store) Availability(ctx context.Context, ev Event) (map[string]Stock, error) {
	res, err := s.reclaimedRead(ctx, ev, availabilityScript)
	if err != nil {
		return nil, fmt.Errorf("inventory: availability: %w", err)
	}
	capacity, avail, sold := pairs(res[2]), pairs(res[3]), pairs(res[4])
	out := make(map[string]Stock, len(capacity))
	for tt, c := range capacity {
		st := Stock{Capacity: atoi(c), Available: atoi(avail[tt]), Sold: atoi(sold[tt])}
		st.Held = st.Capacity - st.Available - st.Sold
		out[tt] = st
	}
	return out, nil
}

// SeatStatuses returns the state of every seat of the event by id, after
// reclaiming expired holds, and the SeatVersion of that state.
func (s *Store) SeatStatuses(ctx context.Context, ev Event) (map[string]SeatStatus, string, error) {
	res, err := s.reclaimedRead(ctx, ev, seatsScript)
	if err != nil {
		return nil, "", fmt.Errorf("inventory: seat statuses: %w", err)
	}
	seats := pairs(res[2])
	out := make(map[string]SeatStatus, len(seats))
	for seat, v := range seats {
		out[seat] = seatStatus(v)
	}
	version, _ := res[3].(string)
	return out, version, nil
}

// SeatVersion names the state of the event's seats, after reclaiming expired
// holds: it changes with every hold, release, sale, reclaim or reload that
// changes a seat, and never names two states, so a seat map rendered at a
// version can be reused until it changes. It costs one short script.
func (s *Store) SeatVersion(ctx context.Context, ev Event) (string, error) {
	res, err := s.reclaimedRead(ctx, ev, seatVersionScript)
	if err != nil {
		return "", fmt.Errorf("inventory: seat version: %w", err)
	}
	version, _ := res[2].(string)
	return version, nil
}

func seatStatus(v string) SeatStatus {
	switch {
	case v == "a":
		return SeatAvailable
	case v == "s":
		return SeatSold
	default:
		return SeatHeld
	}
}

// reclaimedRead runs a read script that answers {1, more, ...}; when its
// lazy reclaim stopped at the limit, it reclaims everything and reads again.
func (s *Store) reclaimedRead(ctx context.Context, ev Event, script *goredis.Script) ([]any, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return nil, err
	}
	res, err := s.run(ctx, ev, ks, script)
	if err != nil || asInt(res, 1) == 0 {
		return res, err
	}
	if _, err := s.Reclaim(ctx, ev); err != nil {
		return nil, err
	}
	return s.run(ctx, ev, ks, script)
}

// Holds returns the ids of the live holds of the event, without loading it
// when its keys are missing; it is for reconciliation and tests.
func (s *Store) Holds(ctx context.Context, ev Event) ([]string, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return nil, err
	}
	ids, err := holdsScript.Run(ctx, s.c, ks.data).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("inventory: holds: %w", err)
	}
	return ids, nil
}

// Rebuild replaces the event's keys with a fresh load from the Loader, under
// the rebuild lock.
func (s *Store) Rebuild(ctx context.Context, ev Event) error {
	ks, err := s.keys(ev)
	if err != nil {
		return err
	}
	return s.load(ctx, ev, ks, true)
}

// Drop deletes the event's keys, so that the next use loads it again; it
// follows a change of the event's ticket types. The rebuild lock is left to
// its owner and its TTL.
func (s *Store) Drop(ctx context.Context, ev Event) error {
	ks, err := s.keys(ev)
	if err != nil {
		return err
	}
	if err := s.c.Del(ctx, ks.state()...).Err(); err != nil {
		return fmt.Errorf("inventory: drop: %w", err)
	}
	return nil
}

// status is the first element of a script's answer.
func status(res []any) int { return asInt(res, 0) }

func asString(res []any, i int) string {
	if i >= len(res) {
		return ""
	}
	v, _ := res[i].(string)
	return v
}

func asInt(res []any, i int) int {
	if i >= len(res) {
		return 0
	}
	n, _ := res[i].(int64)
	return int(n)
}

// pairs turns an HGETALL answer inside a script's answer into a map.
func pairs(v any) map[string]string {
	list, _ := v.([]any)
	m := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		k, _ := list[i].(string)
		val, _ := list[i+1].(string)
		m[k] = val
	}
	return m
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Buyers returns the event's buyers hash as it is in Redis, without loading
// the event: "t:<buyer>" and "y:<buyer>:<ticketTypeId>" are tickets held or
// bought, "o:<buyer>" live holds. It is for `inventory check` and tests.
func (s *Store) Buyers(ctx context.Context, ev Event) (map[string]int, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return nil, err
	}
	raw, err := s.c.HGetAll(ctx, ks.data[keyBuyers]).Result()
	if err != nil {
		return nil, fmt.Errorf("inventory: buyers: %w", err)
	}
	out := make(map[string]int, len(raw))
	for k, v := range raw {
		out[k] = atoi(v)
	}
	return out, nil
}
