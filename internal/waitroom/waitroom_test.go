package waitroom_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/waitroom"
)

const secret = "test-waiting-room-secret-0123456789abcdef"

func TestTokenBindsTenantEventUserAndVisitor(t *testing.T) {
	t.Parallel()
	s, err := waitroom.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	tenant, event, user, visitor := ticketing.NewID(), ticketing.NewID(), ticketing.NewID(), ticketing.NewID()
	token := s.Sign(tenant, event, user, visitor)
	if !strings.HasPrefix(token, "wr1."+visitor+".") {
		t.Fatalf("token %q", token)
	}
	if got, err := s.Verify(token, tenant, event, user); err != nil || got != visitor {
		t.Fatalf("verify: %q %v", got, err)
	}
	other, _ := waitroom.NewSigner(strings.Repeat("x", 40))
	sig := token[strings.LastIndex(token, ".")+1:]
	flipped := []byte(sig)
	flipped[3] ^= 1
	if flipped[3] == '.' {
		flipped[3] = 'A'
	}
	for name, c := range map[string]struct {
		signer                     *waitroom.Signer
		token, tenant, event, user string
	}{
		"otherTenant":    {s, token, ticketing.NewID(), event, user},
		"otherEvent":     {s, token, tenant, ticketing.NewID(), user},
		"otherUser":      {s, token, tenant, event, ticketing.NewID()},
		"otherSecret":    {other, token, tenant, event, user},
		"otherVisitor":   {s, "wr1." + ticketing.NewID() + "." + sig, tenant, event, user},
		"tamperedMAC":    {s, "wr1." + visitor + "." + string(flipped), tenant, event, user},
		"otherVersion":   {s, "wr2" + token[3:], tenant, event, user},
		"noSignature":    {s, "wr1." + visitor, tenant, event, user},
		"badVisitor":     {s, "wr1.x." + sig, tenant, event, user},
		"badBase64":      {s, "wr1." + visitor + ".!!", tenant, event, user},
		"empty":          {s, "", tenant, event, user},
		"trailingGarble": {s, token + ".x", tenant, event, user},
	} {
		if _, err := c.signer.Verify(c.token, c.tenant, c.event, c.user); !errors.Is(err, ticketing.ErrRoomTokenInvalid) {
			t.Errorf("%s: %v, want WAITING_ROOM_TOKEN_INVALID", name, err)
		}
	}
	if _, err := waitroom.NewSigner("short"); err == nil {
		t.Error("a short secret was accepted")
	}
}

// memStore is an in-memory waitroom.Store.
type memStore struct {
	mu    sync.Mutex
	rooms map[string]ticketing.WaitingRoom
}

func (m *memStore) SaveRoom(_ context.Context, r ticketing.WaitingRoom) (*ticketing.WaitingRoom, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rooms[r.EventID] = r
	return &r, nil
}

func (m *memStore) FindRoom(_ context.Context, eventID string) (*ticketing.WaitingRoom, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[eventID]
	if !ok {
		return nil, ticketing.NotFound("waiting room")
	}
	return &r, nil
}

func (m *memStore) DeleteRoom(_ context.Context, eventID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rooms, eventID)
	return nil
}

// fakeStock reports an event sold out when soldOut is set.
type fakeStock struct {
	mu      sync.Mutex
	soldOut bool
}

func (f *fakeStock) Availability(context.Context, string) ([]ticketing.Stock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.soldOut {
		return []ticketing.Stock{{Capacity: 1, Sold: 1}}, nil
	}
	return []ticketing.Stock{{Capacity: 1, Available: 1}}, nil
}

// fakeObserver counts what the rooms report.
type fakeObserver struct {
	mu                sync.Mutex
	joins, admissions int
	waiting           int
}

func (o *fakeObserver) RoomJoined() { o.mu.Lock(); o.joins++; o.mu.Unlock() }
func (o *fakeObserver) RoomAdmitted(w []time.Duration) {
	o.mu.Lock()
	o.admissions += len(w)
	o.mu.Unlock()
}
func (o *fakeObserver) RoomWaiting(_ string, n int) { o.mu.Lock(); o.waiting = n; o.mu.Unlock() }

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// room is one event's waiting room on a real Redis namespace, with a
// manual clock starting a minute before the room opens.
type room struct {
	t      *testing.T
	svc    *waitroom.Service
	clock  *clock
	stock  *fakeStock
	obs    *fakeObserver
	tenant *ticketing.Tenant
	event  string
	opens  time.Time
}

func newRoom(t *testing.T, perMinute int) *room {
	t.Helper()
	rdb := redistest.New(t)
	opens := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	r := &room{t: t, clock: &clock{t: opens.Add(-time.Minute)}, stock: &fakeStock{}, obs: &fakeObserver{},
		tenant: &ticketing.Tenant{ID: ticketing.NewID()}, event: ticketing.NewID(), opens: opens}
	signer, _ := waitroom.NewSigner(secret)
	r.svc = waitroom.New(&memStore{rooms: map[string]ticketing.WaitingRoom{}}, waitroom.NewQueue(rdb.UniversalClient, rdb.Prefix), signer,
		r.stock, r.obs, slog.New(slog.NewTextHandler(io.Discard, nil)), waitroom.Config{AutoMinPerMinute: 120, AutoMaxPerMinute: 6000})
	r.svc.SetClock(r.clock.now)
	_, err := r.svc.ConfigureRoom(r.ctx(""), ticketing.WaitingRoom{EventID: r.event, Enabled: true, OpensAt: opens,
		AdmitPerMinute: perMinute, AdmissionWindow: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *room) ctx(user string) context.Context {
	ctx := ticketing.WithTenant(context.Background(), r.tenant)
	return ticketing.WithActor(ctx, ticketing.Actor{UserID: user, Role: string(ticketing.RoleUser)})
}

// visitor is one buyer in the room.
type visitor struct{ user, token string }

func (r *room) join(user string) (visitor, ticketing.QueueStatus) {
	r.t.Helper()
	st, token, err := r.svc.Join(r.ctx(user), r.event)
	if err != nil {
		r.t.Fatalf("join %s: %v", user, err)
	}
	return visitor{user, token}, st
}

func (r *room) status(v visitor) ticketing.QueueStatus {
	r.t.Helper()
	st, err := r.svc.Status(r.ctx(v.user), r.event, v.token)
	if err != nil {
		r.t.Fatalf("status %s: %v", v.user, err)
	}
	return st
}

func (r *room) joinMany(n int) []visitor {
	out := make([]visitor, n)
	for i := range out {
		out[i], _ = r.join(ticketing.NewID())
	}
	return out
}

// TestJoinIsIdempotent: joining twice keeps the visitor and the place.
func TestJoinIsIdempotent(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 60)
	r.clock.advance(2 * time.Minute)
	r.joinMany(3)
	user := ticketing.NewID()
	v1, st1 := r.join(user)
	v2, st2 := r.join(user)
	if v1.token != v2.token || st1.Position != 4 || st2.Position != 4 {
		t.Fatalf("joined twice: %v %v, %+v %+v", v1, v2, st1, st2)
	}
	if r.obs.joins != 4 {
		t.Fatalf("%d joins counted, want 4", r.obs.joins)
	}
}

// TestLaterJoinersNeverAdmittedFirst: after opening, visitors are admitted
// in arrival order, at the fixed rate, whatever the timing of the calls.
func TestLaterJoinersNeverAdmittedFirst(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 60) // one a second
	r.clock.advance(time.Minute)
	vs := r.joinMany(30)
	admittedAt := map[int]int{}
	for step := 1; len(admittedAt) < len(vs); step++ {
		if step > 100 {
			t.Fatalf("only %d admitted", len(admittedAt))
		}
		r.clock.advance(700 * time.Millisecond)
		// Ask in a scrambled order: who asks does not decide who goes.
		for i := range vs {
			j := (i * 7) % len(vs)
			if _, ok := admittedAt[j]; ok {
				continue
			}
			if st := r.status(vs[j]); st.Admitted {
				admittedAt[j] = step
			}
		}
	}
	for i := 1; i < len(vs); i++ {
		if admittedAt[i] < admittedAt[i-1] {
			t.Fatalf("visitor %d admitted at step %d before visitor %d at step %d", i, admittedAt[i], i-1, admittedAt[i-1])
		}
	}
	// 30 visitors at one a second take about 30 s: 43 steps of 0.7 s.
	if last := admittedAt[len(vs)-1]; last < 40 || last > 45 {
		t.Fatalf("the last visitor was admitted at step %d, want about 43", last)
	}
	if r.obs.admissions != 30 {
		t.Fatalf("%d admissions observed", r.obs.admissions)
	}
}

// TestRateBanksAtMostTenSeconds: a quiet minute banks ten seconds of
// admissions, not a minute's.
func TestRateBanksAtMostTenSeconds(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 600) // ten a second
	r.clock.advance(time.Minute)
	vs := r.joinMany(300)
	r.clock.advance(time.Minute)
	st := r.status(vs[len(vs)-1])
	if admitted := st.Position - 1 - st.Ahead; admitted != 100 {
		t.Fatalf("%d admitted after a quiet minute, want 100 (10 s at 600/min): %+v", admitted, st)
	}
	if st.EstimatedWaitSeconds != 20 || st.AdmitPerMinute != 600 || st.State != ticketing.QueueWaiting {
		t.Fatalf("status %+v", st)
	}
	r.clock.advance(3 * time.Second)
	if st := r.status(vs[len(vs)-1]); st.Ahead != 169 {
		t.Fatalf("ahead %d after 3 s more, want 169", st.Ahead)
	}
}

// TestPreOpenJoinersAreShuffled: visitors who join before the room opens
// are placed at random among themselves and before every later visitor.
func TestPreOpenJoinersAreShuffled(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 60)
	early := r.joinMany(200)
	st := r.status(early[0])
	if st.State != ticketing.QueueBeforeOpen || st.Admitted || st.EstimatedWaitSeconds < 60 {
		t.Fatalf("before opening: %+v", st)
	}
	r.clock.advance(time.Minute + time.Millisecond)
	late := r.joinMany(5)
	positions := make([]int, len(early))
	inOrder := 0
	for i, v := range early {
		positions[i] = r.status(v).Position
		if positions[i] > len(early) {
			t.Fatalf("early visitor %d at position %d, behind a later one", i, positions[i])
		}
		if positions[i] == i+1 {
			inOrder++
		}
	}
	// In arrival order, every one would keep its place; a shuffle keeps
	// about one.
	if inOrder > 20 {
		t.Fatalf("%d of %d early visitors kept their arrival place: not shuffled", inOrder, len(early))
	}
	for i, v := range late {
		if p := r.status(v).Position; p != len(early)+i+1 {
			t.Fatalf("late visitor %d at position %d, want %d", i, p, len(early)+i+1)
		}
	}
}

// TestAdmissionExpires: an admission lasts its window; joining again then
// queues at the back.
func TestAdmissionExpires(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 60)
	r.clock.advance(time.Minute)
	v, _ := r.join(ticketing.NewID())
	r.clock.advance(time.Second)
	ctx := r.ctx(v.user)
	st := r.status(v)
	if !st.Admitted || st.State != ticketing.QueueAdmitted || !st.AdmittedUntil.Equal(r.clock.now().Add(5*time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("admitted: %+v", st)
	}
	if gated, err := r.svc.CheckAdmission(ctx, r.event, v.token); !gated || err != nil {
		t.Fatalf("check while admitted: %v %v", gated, err)
	}
	others := r.joinMany(3)
	r.clock.advance(5 * time.Minute)
	if st := r.status(v); st.Admitted || st.State != ticketing.QueueExpired {
		t.Fatalf("after the window: %+v", st)
	}
	if _, err := r.svc.CheckAdmission(ctx, r.event, v.token); !errors.Is(err, ticketing.ErrAdmissionRequired) {
		t.Fatalf("check after the window: %v", err)
	}
	again, st := r.join(v.user)
	if again.token == v.token || st.Position != 4 || st.Admitted {
		t.Fatalf("rejoined: %+v", st)
	}
	if _, err := r.svc.Status(ctx, r.event, v.token); !errors.Is(err, ticketing.ErrNotQueued) {
		t.Fatalf("the old token: %v", err)
	}
	// The others were admitted meanwhile, and the rejoined visitor is
	// behind them.
	for _, o := range others {
		if st := r.status(o); st.State != ticketing.QueueAdmitted && st.State != ticketing.QueueExpired {
			t.Fatalf("other: %+v", st)
		}
	}
	r.clock.advance(2 * time.Second)
	if st := r.status(again); !st.Admitted {
		t.Fatalf("rejoined visitor not admitted in turn: %+v", st)
	}
}

// TestCheckAdmission: the errors of a booking's check, and no check at all
// before the room opens or for events without a room.
func TestCheckAdmission(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 1)
	v, _ := r.join(ticketing.NewID())
	ctx := r.ctx(v.user)
	if gated, err := r.svc.CheckAdmission(ctx, r.event, ""); gated || err != nil {
		t.Fatalf("before opening: %v %v", gated, err)
	}
	if gated, err := r.svc.CheckAdmission(ctx, ticketing.NewID(), ""); gated || err != nil {
		t.Fatalf("no room: %v %v", gated, err)
	}
	r.clock.advance(time.Minute)
	if _, err := r.svc.CheckAdmission(ctx, r.event, ""); !errors.Is(err, ticketing.ErrAdmissionRequired) {
		t.Fatalf("no token: %v", err)
	}
	w, _ := r.join(ticketing.NewID())
	if _, err := r.svc.CheckAdmission(r.ctx(w.user), r.event, w.token); !errors.Is(err, ticketing.ErrAdmissionRequired) {
		t.Fatalf("not admitted: %v", err)
	}
	if _, err := r.svc.CheckAdmission(r.ctx(w.user), r.event, v.token); !errors.Is(err, ticketing.ErrRoomTokenInvalid) {
		t.Fatalf("another user's token: %v", err)
	}
	r.clock.advance(time.Minute)
	if gated, err := r.svc.CheckAdmission(ctx, r.event, v.token); !gated || err != nil {
		t.Fatalf("admitted: %v %v", gated, err)
	}
	if _, _, err := r.svc.Join(r.ctx(v.user), ticketing.NewID()); !errors.Is(err, ticketing.ErrRoomDisabled) {
		t.Fatalf("join without a room: %v", err)
	}
}

// TestAutoRateFollowsBookings: with admitPerMinute 0 the rate is twice the
// bookings of the last minute, within the configured bounds.
func TestAutoRateFollowsBookings(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 0)
	r.clock.advance(time.Minute)
	v, _ := r.join(ticketing.NewID())
	if st := r.status(v); st.AdmitPerMinute != 120 {
		t.Fatalf("rate without bookings %d, want the minimum 120", st.AdmitPerMinute)
	}
	for i := range 100 {
		r.svc.Booked(r.ctx(v.user), r.event, fmt.Sprint("b", i))
	}
	if st := r.status(v); st.AdmitPerMinute != 200 {
		t.Fatalf("rate after 100 bookings %d, want 200", st.AdmitPerMinute)
	}
	r.clock.advance(61 * time.Second)
	if st := r.status(v); st.AdmitPerMinute != 120 {
		t.Fatalf("rate a minute later %d, want 120", st.AdmitPerMinute)
	}
}

// TestSoldOutStopsAdmissions: nothing is admitted, or banked, while the
// event is sold out.
func TestSoldOutStopsAdmissions(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 60)
	r.stock.soldOut = true
	r.clock.advance(time.Minute)
	vs := r.joinMany(3)
	r.clock.advance(30 * time.Second)
	if st := r.status(vs[0]); st.Admitted || st.State != ticketing.QueueSoldOut {
		t.Fatalf("sold out: %+v", st)
	}
	r.stock.mu.Lock()
	r.stock.soldOut = false
	r.stock.mu.Unlock()
	r.clock.advance(1500 * time.Millisecond)
	st := r.status(vs[2])
	if admitted := st.Position - 1 - st.Ahead; admitted != 1 {
		t.Fatalf("%d admitted 1.5 s after tickets came back, want 1: %+v", admitted, st)
	}
}

// TestDeleteDropsTheQueue: a room removed and configured again starts
// empty.
func TestDeleteDropsTheQueue(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 60)
	v, _ := r.join(ticketing.NewID())
	if err := r.svc.DeleteRoom(r.ctx(""), r.event); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Status(r.ctx(v.user), r.event, v.token); !errors.Is(err, ticketing.ErrRoomDisabled) {
		t.Fatalf("status without a room: %v", err)
	}
	if _, err := r.svc.ConfigureRoom(r.ctx(""), ticketing.WaitingRoom{EventID: r.event, Enabled: true, OpensAt: r.opens}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Status(r.ctx(v.user), r.event, v.token); !errors.Is(err, ticketing.ErrNotQueued) {
		t.Fatalf("status in the new room: %v", err)
	}
	if _, st := r.join(ticketing.NewID()); st.Position != 1 {
		t.Fatalf("first in the new room at %d", st.Position)
	}
}

// TestTimeNeverGoesBack: a call with an older clock (another instance's,
// or one that reached Redis late) neither admits nor stamps an admission
// before the ones already made.
func TestTimeNeverGoesBack(t *testing.T) {
	t.Parallel()
	r := newRoom(t, 60)
	r.clock.advance(time.Minute)
	vs := r.joinMany(2)
	r.clock.advance(time.Second)
	first := r.status(vs[0])
	r.clock.advance(-900 * time.Millisecond)
	if st := r.status(vs[1]); st.Admitted {
		t.Fatalf("admitted by a late clock: %+v", st)
	}
	r.clock.advance(1900 * time.Millisecond)
	second := r.status(vs[1])
	if !first.Admitted || !second.Admitted || second.AdmittedUntil.Before(first.AdmittedUntil) {
		t.Fatalf("admissions out of order: %+v then %+v", first, second)
	}
}

// TestConfigValidation: the bounds of a room's configuration.
func TestConfigValidation(t *testing.T) {
	t.Parallel()
	opens := time.Now().Add(time.Hour)
	for name, c := range map[string]struct {
		room ticketing.WaitingRoom
		ok   bool
	}{
		"auto":          {ticketing.WaitingRoom{OpensAt: opens}, true},
		"fixed":         {ticketing.WaitingRoom{OpensAt: opens, AdmitPerMinute: 100000, AdmissionWindow: time.Hour}, true},
		"noOpensAt":     {ticketing.WaitingRoom{}, false},
		"negativeRate":  {ticketing.WaitingRoom{OpensAt: opens, AdmitPerMinute: -1}, false},
		"rateTooHigh":   {ticketing.WaitingRoom{OpensAt: opens, AdmitPerMinute: 100001}, false},
		"windowShort":   {ticketing.WaitingRoom{OpensAt: opens, AdmissionWindow: 59 * time.Second}, false},
		"windowLong":    {ticketing.WaitingRoom{OpensAt: opens, AdmissionWindow: 3601 * time.Second}, false},
		"ancientOpens":  {ticketing.WaitingRoom{OpensAt: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		"farFutureOpen": {ticketing.WaitingRoom{OpensAt: time.Now().AddDate(6, 0, 0)}, false},
	} {
		err := c.room.Validate()
		if (err == nil) != c.ok || (err != nil && ticketing.ErrorKind(err) != ticketing.KindInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
