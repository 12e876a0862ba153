package waitroom

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/pipeline"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

//go:embed room.lua
var roomSource string

// roomScript runs by EVALSHA and falls back to EVAL when Redis has lost its
// script cache (restart, failover).
var roomScript = goredis.NewScript(roomSource)

// keyTTL is how long a room's keys outlive its last join or booking.
const keyTTL = 7 * 24 * time.Hour

// preOpenBand bounds the random scores of visitors who join before the room
// opens (room.lua scores later visitors from 2^52 up).
const preOpenBand = 1 << 52

// Queue is the Redis side of the waiting rooms.
type Queue struct {
	c      goredis.UniversalClient
	prefix string
	// scripts sends the script calls of concurrent requests in one pipeline,
	// in the order they came: when an on-sale opens, thousands of visitors
	// join within a second.
	scripts *pipeline.Scripts
}

// NewQueue returns a Queue on client; prefix starts every key (it may be
// "").
func NewQueue(client goredis.UniversalClient, prefix string) *Queue {
	return &Queue{c: client, prefix: prefix, scripts: pipeline.New(client)}
}

// Room scopes one call to one event's room and its configuration.
type Room struct {
	TenantID, EventID string
	OpensAt           time.Time
	// AdmitPerMinute is the fixed rate, 0 for auto between AutoMin and
	// AutoMax per minute.
	AdmitPerMinute   int
	AutoMin, AutoMax int
	Window           time.Duration
	// SoldOut stops admissions (nothing is banked meanwhile).
	SoldOut bool
}

// Place is what the script answers about one visitor.
type Place struct {
	Visitor string
	// New is set by Join for a visitor that was not queued before.
	New bool
	// Rank counts from 0; Admitted is how many visitors have been admitted
	// so far (ranks below it), Length the queue's length.
	Rank, Admitted, Length int
	// Until is the end of the visitor's admission, zero when not admitted
	// (or expired).
	Until   time.Time
	Rate    int
	Opened  bool
	SoldOut bool
}

// Admission is what a call admitted: how long each admitted visitor waited.
type Admission struct {
	Waits []time.Duration
}

// keys returns the keys of a room, in the order of room.lua. They share the
// hash tag of the event's inventory keys ({tenant:event}), so that both live
// in one Redis Cluster slot:
//
//	<p>wr:{t:e}:queue     zset visitor → score (pre-open: random below 2^52; then 2^52 + arrival)
//	<p>wr:{t:e}:users     hash user → visitor
//	<p>wr:{t:e}:joined    hash visitor → join time (ms)
//	<p>wr:{t:e}:admitted  zset visitor → admission expiry (ms)
//	<p>wr:{t:e}:state     hash admitted (cursor over the queue), last (ms), bank, opened, seq
//	<p>wr:{t:e}:booked    zset booking id → time (ms) of bookings of admitted buyers (auto rate)
func (q *Queue) keys(r Room) ([]string, error) {
	if r.TenantID == "" || r.EventID == "" || strings.ContainsAny(r.TenantID+r.EventID, "{}") {
		return nil, fmt.Errorf("waitroom: bad event %q/%q", r.TenantID, r.EventID)
	}
	base := q.prefix + "wr:{" + r.TenantID + ":" + r.EventID + "}:"
	return []string{base + "queue", base + "users", base + "joined", base + "admitted", base + "state", base + "booked"}, nil
}

func (q *Queue) run(ctx context.Context, r Room, now time.Time, op string, args ...any) ([]any, Admission, error) {
	keys, err := q.keys(r)
	if err != nil {
		return nil, Admission{}, err
	}
	soldOut := "0"
	if r.SoldOut {
		soldOut = "1"
	}
	argv := []any{op, now.UnixMilli(), r.OpensAt.UnixMilli(), r.AdmitPerMinute, r.Window.Milliseconds(),
		r.AutoMin, r.AutoMax, soldOut, "", "", "", keyTTL.Milliseconds()}
	copy(argv[8:11], args)
	res, err := q.scripts.Run(ctx, roomScript, keys, argv...).Slice()
	if err != nil {
		return nil, Admission{}, fmt.Errorf("waitroom: %s: %w", op, err)
	}
	var adm Admission
	if waits, ok := res[len(res)-1].([]any); ok {
		for _, w := range waits {
			if s, ok := w.(string); ok {
				if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
					adm.Waits = append(adm.Waits, now.Sub(time.UnixMilli(ms)))
				}
			}
		}
	}
	return res[:len(res)-1], adm, nil
}

// place reads {1, visitor, new, rank, admitted, length, until, rate,
// opened, soldOut}.
func place(res []any) Place {
	n := func(i int) int64 { v, _ := res[i].(int64); return v }
	p := Place{Visitor: fmt.Sprint(res[1]), New: n(2) == 1, Rank: int(n(3)), Admitted: int(n(4)), Length: int(n(5)),
		Rate: int(n(7)), Opened: n(8) == 1, SoldOut: n(9) == 1}
	if ms := n(6); ms > 0 {
		p.Until = time.UnixMilli(ms)
	}
	return p
}

// Join queues user (once: the same visitor while waiting or admitted, a new
// one at the back after an admission expired) and admits whoever is due.
func (q *Queue) Join(ctx context.Context, r Room, now time.Time, user string) (Place, Admission, error) {
	res, adm, err := q.run(ctx, r, now, "join", user, ticketing.NewID(), strconv.FormatInt(rand.Int64N(preOpenBand), 10))
	if err != nil {
		return Place{}, adm, err
	}
	return place(res), adm, nil
}

// Status returns where visitor stands, admitting whoever is due; found is
// false when the visitor is not queued.
func (q *Queue) Status(ctx context.Context, r Room, now time.Time, visitor string) (p Place, found bool, adm Admission, err error) {
	res, adm, err := q.run(ctx, r, now, "status", visitor)
	if err != nil || res[0].(int64) == 0 {
		return Place{}, false, adm, err
	}
	return place(res), true, adm, nil
}

// Booked records a booking of an admitted buyer, which the auto rate
// follows.
func (q *Queue) Booked(ctx context.Context, r Room, now time.Time, bookingID string) (Admission, error) {
	_, adm, err := q.run(ctx, r, now, "booked", bookingID)
	return adm, err
}

// Drop deletes the queue of a room: a room removed and configured again
// starts with an empty queue, not with the old one's visitors and cursor.
func (q *Queue) Drop(ctx context.Context, tenantID, eventID string) error {
	keys, err := q.keys(Room{TenantID: tenantID, EventID: eventID})
	if err != nil {
		return err
	}
	if err := q.c.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("waitroom: drop: %w", err)
	}
	return nil
}
