package inventory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/redistest"
)

// fakeDB plays Postgres: stock, plus the pending holds the test records as
// the booking service would.
type fakeDB struct {
	mu    sync.Mutex
	types []TicketTypeStock
	seats []SeatStock
	holds map[string]Hold
	delay time.Duration
	calls atomic.Int32
	// bought, maxPerBuyer and keyed are the snapshot's; set before first
	// use.
	bought      []Bought
	maxPerBuyer int
	keyed       []KeyedBooking
	settled     []string
}

func (f *fakeDB) LoadInventory(ctx context.Context, ev Event) (*Snapshot, error) {
	f.calls.Add(1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	snap := &Snapshot{
		TicketTypes: append([]TicketTypeStock(nil), f.types...),
		Seats:       append([]SeatStock(nil), f.seats...),
		Bought:      append([]Bought(nil), f.bought...),
		MaxPerBuyer: f.maxPerBuyer,
		Keyed:       append([]KeyedBooking(nil), f.keyed...),
		Settled:     append([]string(nil), f.settled...),
	}
	for _, h := range f.holds {
		snap.Holds = append(snap.Holds, h)
	}
	return snap, nil
}

// record notes a pending booking for h.
func (f *fakeDB) record(h Hold) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holds == nil {
		f.holds = map[string]Hold{}
	}
	f.holds[h.ID] = h
}

// seated adds a seated ticket type with n seats named <prefix>1..n.
func (f *fakeDB) seated(tt, prefix string, n int, sold ...string) {
	f.types = append(f.types, TicketTypeStock{ID: tt, Seated: true})
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		f.seats = append(f.seats, SeatStock{ID: id, TicketTypeID: tt, Sold: contains(sold, id)})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var ev = Event{TenantID: "tenant-1", EventID: "event-1"}

func newStore(t testing.TB, db *fakeDB) *Store {
	t.Helper()
	c := redistest.New(t)
	return New(c.UniversalClient, c.Prefix, db)
}

func later() time.Time { return time.Now().Add(10 * time.Minute) }

func mustVerify(t testing.TB, s *Store, ev Event) {
	t.Helper()
	problems, err := s.Verify(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("inconsistent:\n%s", strings.Join(problems, "\n"))
	}
}

func mustStock(t testing.TB, s *Store, tt string, want Stock) {
	t.Helper()
	got, err := s.Availability(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got[tt] != want {
		t.Fatalf("stock of %s = %+v, want %+v", tt, got[tt], want)
	}
}

func mustSeats(t testing.TB, s *Store, want map[string]SeatStatus) {
	t.Helper()
	got, _, err := s.SeatStatuses(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	for seat, st := range want {
		if got[seat] != st {
			t.Fatalf("seat %s = %q, want %q (all: %v)", seat, got[seat], st, got)
		}
	}
}

func mustOK(t testing.TB, ok bool, err error, want bool) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Fatalf("got %v, want %v", ok, want)
	}
}

func TestHoldReleaseConfirm(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10, Sold: 2}}}
	db.seated("vip", "s", 5, "s5")
	s := newStore(t, db)

	h1 := Hold{ID: "h1", ExpiresAt: later(), Items: []Item{{"ga", 2}, {"ga", 1}}, Seats: []string{"s1", "s2"}}
	if err := s.Hold(ctx, ev, h1); err != nil {
		t.Fatal(err)
	}
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 5, Held: 3, Sold: 2})
	mustStock(t, s, "vip", Stock{Capacity: 5, Available: 2, Held: 2, Sold: 1})
	mustSeats(t, s, map[string]SeatStatus{"s1": SeatHeld, "s2": SeatHeld, "s3": SeatAvailable, "s5": SeatSold})

	// The same id again is a no-op, whatever it asks for.
	if err := s.Hold(ctx, ev, Hold{ID: "h1", ExpiresAt: later(), Items: []Item{{"ga", 5}}}); err != nil {
		t.Fatal(err)
	}
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 5, Held: 3, Sold: 2})
	if ids, err := s.Holds(ctx, ev); err != nil || !reflect.DeepEqual(ids, []string{"h1"}) {
		t.Fatalf("holds = %v, %v", ids, err)
	}
	mustVerify(t, s, ev)

	ok, err := s.Release(ctx, ev, "h1")
	mustOK(t, ok, err, true)
	ok, err = s.Release(ctx, ev, "h1")
	mustOK(t, ok, err, false)
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 8, Held: 0, Sold: 2})
	mustStock(t, s, "vip", Stock{Capacity: 5, Available: 4, Held: 0, Sold: 1})
	mustSeats(t, s, map[string]SeatStatus{"s1": SeatAvailable, "s2": SeatAvailable})
	mustVerify(t, s, ev)

	if err := s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Items: []Item{{"ga", 2}}, Seats: []string{"s3"}}); err != nil {
		t.Fatal(err)
	}
	ok, err = s.Confirm(ctx, ev, "h2")
	mustOK(t, ok, err, true)
	// A repeat finds the sale counted and does not count it twice.
	ok, err = s.Confirm(ctx, ev, "h2")
	mustOK(t, ok, err, true)
	ok, err = s.Release(ctx, ev, "h2")
	mustOK(t, ok, err, false)
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 6, Held: 0, Sold: 4})
	mustStock(t, s, "vip", Stock{Capacity: 5, Available: 3, Held: 0, Sold: 2})
	mustSeats(t, s, map[string]SeatStatus{"s3": SeatSold})
	mustVerify(t, s, ev)

	ok, err = s.Release(ctx, ev, "never-held")
	mustOK(t, ok, err, false)
}

func TestHoldAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 5}, {ID: "ga2", Capacity: 5}}}
	db.seated("vip", "s", 4, "s4")
	s := newStore(t, db)
	if err := s.Hold(ctx, ev, Hold{ID: "first", ExpiresAt: later(), Seats: []string{"s1"}}); err != nil {
		t.Fatal(err)
	}

	err := s.Hold(ctx, ev, Hold{ID: "greedy", ExpiresAt: later(),
		Items: []Item{{"ga", 6}, {"ga2", 1}, {"nope", 1}, {"vip", 1}},
		Seats: []string{"s2", "s1", "s4", "s9"}})
	var u *Unavailable
	if !errors.As(err, &u) {
		t.Fatalf("err = %v, want *Unavailable", err)
	}
	if want := (&Unavailable{SoldOut: []string{"ga", "nope", "vip"}, Seats: []string{"s1", "s4", "s9"}}); !reflect.DeepEqual(u, want) {
		t.Fatalf("unavailable = %+v, want %+v", u, want)
	}
	if !strings.Contains(err.Error(), "ga, nope, vip") || !strings.Contains(err.Error(), "s1, s4, s9") {
		t.Fatalf("error %q does not name every failure", err)
	}
	// Nothing of the refused hold was written.
	mustStock(t, s, "ga2", Stock{Capacity: 5, Available: 5})
	mustStock(t, s, "vip", Stock{Capacity: 4, Available: 2, Held: 1, Sold: 1})
	mustSeats(t, s, map[string]SeatStatus{"s2": SeatAvailable, "s3": SeatAvailable})
	if ids, _ := s.Holds(ctx, ev); len(ids) != 1 {
		t.Fatalf("holds = %v", ids)
	}
	ok, err := s.Release(ctx, ev, "greedy")
	mustOK(t, ok, err, false)
	mustVerify(t, s, ev)

	// Exactly what is left can be held.
	if err := s.Hold(ctx, ev, Hold{ID: "exact", ExpiresAt: later(), Items: []Item{{"ga", 5}}, Seats: []string{"s2", "s3"}}); err != nil {
		t.Fatal(err)
	}
	mustStock(t, s, "ga", Stock{Capacity: 5, Available: 0, Held: 5})
	mustVerify(t, s, ev)
}

func TestHoldInvalid(t *testing.T) {
	s := newStore(t, &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 500}}})
	many := make([]string, MaxHoldSize+1)
	for i := range many {
		many[i] = fmt.Sprint("s", i)
	}
	for name, h := range map[string]Hold{
		"noID":       {ExpiresAt: later(), Items: []Item{{"ga", 1}}},
		"noExpiry":   {ID: "h", Items: []Item{{"ga", 1}}},
		"empty":      {ID: "h", ExpiresAt: later()},
		"zeroQty":    {ID: "h", ExpiresAt: later(), Items: []Item{{"ga", 0}}},
		"seatTwice":  {ID: "h", ExpiresAt: later(), Seats: []string{"a", "a"}},
		"newline":    {ID: "h", ExpiresAt: later(), Seats: []string{"a\nb"}},
		"tooLarge":   {ID: "h", ExpiresAt: later(), Seats: many},
		"tooLargeGA": {ID: "h", ExpiresAt: later(), Items: make([]Item, MaxHoldSize+1)},
	} {
		if err := s.Hold(context.Background(), ev, h); !errors.Is(err, ErrInvalidHold) {
			t.Errorf("%s: err = %v, want ErrInvalidHold", name, err)
		}
	}
	if err := s.Hold(context.Background(), Event{TenantID: "t{1}", EventID: "e"}, Hold{ID: "h", ExpiresAt: later(), Items: []Item{{"ga", 1}}}); err == nil {
		t.Error("event id with a brace accepted")
	}
}

func TestLazyExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10}}}
	db.seated("vip", "s", 3)
	s := newStore(t, db)
	past := time.Now().Add(-time.Second)

	// Reclaimed by the next Availability.
	if err := s.Hold(ctx, ev, Hold{ID: "old", ExpiresAt: past, Items: []Item{{"ga", 4}}, Seats: []string{"s1"}}); err != nil {
		t.Fatal(err)
	}
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 10})
	mustSeats(t, s, map[string]SeatStatus{"s1": SeatAvailable})
	ok, err := s.Release(ctx, ev, "old")
	mustOK(t, ok, err, false)

	// Reclaimed by the next Hold, which needs its stock. Two seconds are
	// short for a hold, and long beside the one Hold that must still find
	// it held, however busy the machine.
	if err := s.Hold(ctx, ev, Hold{ID: "short", ExpiresAt: time.Now().Add(2 * time.Second), Items: []Item{{"ga", 10}}, Seats: []string{"s2"}}); err != nil {
		t.Fatal(err)
	}
	var u *Unavailable
	if err := s.Hold(ctx, ev, Hold{ID: "next", ExpiresAt: later(), Items: []Item{{"ga", 10}}, Seats: []string{"s2"}}); !errors.As(err, &u) {
		t.Fatalf("hold before expiry: err = %v, want *Unavailable", err)
	}
	waitExpired(t, s, "short")
	if err := s.Hold(ctx, ev, Hold{ID: "next", ExpiresAt: later(), Items: []Item{{"ga", 10}}, Seats: []string{"s2"}}); err != nil {
		t.Fatal(err)
	}
	ok, err = s.Confirm(ctx, ev, "short")
	mustOK(t, ok, err, false)
	if ids, _ := s.Holds(ctx, ev); !reflect.DeepEqual(ids, []string{"next"}) {
		t.Fatalf("holds = %v", ids)
	}
	mustVerify(t, s, ev)

	// Reclaim counts what it frees; Holds does not list expired holds. The
	// holds outlive the Holds that make them, or those would reclaim them.
	if ok, err := s.Release(ctx, ev, "next"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	soon := time.Now().Add(2 * time.Second)
	for i := range 3 {
		if err := s.Hold(ctx, ev, Hold{ID: fmt.Sprint("x", i), ExpiresAt: soon, Items: []Item{{"ga", 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitExpired(t, s, "x0", "x1", "x2")
	if ids, _ := s.Holds(ctx, ev); len(ids) != 0 {
		t.Fatalf("holds = %v, want none live", ids)
	}
	n, err := s.Reclaim(ctx, ev)
	if err != nil || n != 3 {
		t.Fatalf("reclaim = %d, %v; want 3", n, err)
	}
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 10})
	mustVerify(t, s, ev)
}

// waitExpired waits until Holds, which neither reclaims nor lists a hold
// whose expiry has passed by Redis time, lists none of ids.
func waitExpired(t *testing.T, s *Store, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		live, err := s.Holds(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(live, func(id string) bool { return contains(ids, id) }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("holds %v still listed 30s on", live)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLazyExpiryBeyondLimit: more expired holds than one lazy reclaim frees
// must not refuse a hold that fits once all of them are gone.
func TestLazyExpiryBeyondLimit(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 250}}})
	past := time.Now().Add(-time.Second)
	for i := range 250 {
		if err := s.Hold(ctx, ev, Hold{ID: fmt.Sprint("old", i), ExpiresAt: past, Items: []Item{{"ga", 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Hold(ctx, ev, Hold{ID: "all", ExpiresAt: later(), Items: []Item{{"ga", 250}}}); err != nil {
		t.Fatal(err)
	}
	mustStock(t, s, "ga", Stock{Capacity: 250, Held: 250})
	mustVerify(t, s, ev)
}

// TestReleaseReclaimRace: a hold freed at once by two Releases, Reclaim and
// the lazy path of another Hold returns its inventory exactly once, whether
// it has expired by then or not.
func TestReleaseReclaimRace(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10}}}
	db.seated("vip", "s", 4)
	s := newStore(t, db)
	for i := range 200 {
		id := fmt.Sprint("h", i)
		exp := time.Now().Add(time.Duration(rand.IntN(5)-2) * time.Millisecond)
		if err := s.Hold(ctx, ev, Hold{ID: id, ExpiresAt: exp, Items: []Item{{"ga", 5}}, Seats: []string{"s1", "s2"}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var released atomic.Int32
		errs := make(chan error, 4)
		release := func() {
			ok, err := s.Release(ctx, ev, id)
			if ok {
				released.Add(1)
			}
			errs <- err
		}
		wg.Go(release)
		wg.Go(release)
		wg.Go(func() {
			_, err := s.Reclaim(ctx, ev)
			errs <- err
		})
		wg.Go(func() {
			probe := fmt.Sprint("p", i)
			err := s.Hold(ctx, ev, Hold{ID: probe, ExpiresAt: later(), Items: []Item{{"ga", 1}}})
			var u *Unavailable
			if errors.As(err, &u) {
				err = nil
			} else if err == nil {
				_, err = s.Release(ctx, ev, probe)
			}
			errs <- err
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if released.Load() > 1 {
			t.Fatalf("iteration %d: released twice", i)
		}
		// Whoever lost the race, the hold is gone once its expiry passes.
		time.Sleep(3 * time.Millisecond)
		mustStock(t, s, "ga", Stock{Capacity: 10, Available: 10})
	}
	mustStock(t, s, "vip", Stock{Capacity: 4, Available: 4})
	mustVerify(t, s, ev)
}

// TestReleaseConfirmRace: of a Release and a Confirm of the same hold, exactly
// one wins, and the stock shows which.
func TestReleaseConfirmRace(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 400}}}
	s := newStore(t, db)
	confirmed := 0
	for i := range 100 {
		id := fmt.Sprint("h", i)
		if err := s.Hold(ctx, ev, Hold{ID: id, ExpiresAt: later(), Items: []Item{{"ga", 2}}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var r, c bool
		var rerr, cerr error
		wg.Go(func() { r, rerr = s.Release(ctx, ev, id) })
		wg.Go(func() { c, cerr = s.Confirm(ctx, ev, id) })
		wg.Wait()
		if rerr != nil || cerr != nil || r == c {
			t.Fatalf("release %v %v, confirm %v %v: want exactly one", r, rerr, c, cerr)
		}
		if c {
			confirmed++
		}
	}
	mustStock(t, s, "ga", Stock{Capacity: 400, Available: 400 - 2*confirmed, Sold: 2 * confirmed})
	mustVerify(t, s, ev)
}

func TestStressGA(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 200}}})
	var held, refused atomic.Int64
	var wg sync.WaitGroup
	refusedQty := make([]int, 300)
	for i := range 300 {
		wg.Go(func() {
			qty := 1 + rand.IntN(3)
			err := s.Hold(ctx, ev, Hold{ID: fmt.Sprint("b", i), ExpiresAt: later(), Items: []Item{{"ga", qty}}})
			var u *Unavailable
			switch {
			case err == nil:
				held.Add(int64(qty))
			case errors.As(err, &u):
				refused.Add(1)
				refusedQty[i] = qty
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st, err := s.Availability(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if int64(st["ga"].Held) != held.Load() || st["ga"].Held+st["ga"].Available != 200 {
		t.Fatalf("stock %+v, holds succeeded for %d", st["ga"], held.Load())
	}
	// Stock only shrinks here, so every refusal asked for more than is left.
	for _, q := range refusedQty {
		if q > 0 && q <= st["ga"].Available {
			t.Fatalf("refused %d with %d available", q, st["ga"].Available)
		}
	}
	mustVerify(t, s, ev)
	// Fill up one by one: exactly 200 are held, then nothing more.
	for i := 0; ; i++ {
		err := s.Hold(ctx, ev, Hold{ID: fmt.Sprint("fill", i), ExpiresAt: later(), Items: []Item{{"ga", 1}}})
		if err != nil {
			var u *Unavailable
			if !errors.As(err, &u) {
				t.Fatal(err)
			}
			break
		}
		held.Add(1)
	}
	if held.Load() != 200 {
		t.Fatalf("held %d, want 200", held.Load())
	}
	mustStock(t, s, "ga", Stock{Capacity: 200, Held: 200})
	mustVerify(t, s, ev)
}

func TestStressSeats(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{}
	db.seated("vip", "s", 60)
	s := newStore(t, db)
	var mu sync.Mutex
	got := map[string][]string{}
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			perm := rand.Perm(60)[:2+rand.IntN(3)]
			seats := make([]string, len(perm))
			for j, p := range perm {
				seats[j] = fmt.Sprint("s", p+1)
			}
			id := fmt.Sprint("b", i)
			err := s.Hold(ctx, ev, Hold{ID: id, ExpiresAt: later(), Seats: seats})
			var u *Unavailable
			switch {
			case err == nil:
				mu.Lock()
				got[id] = seats
				mu.Unlock()
			case errors.As(err, &u):
				if len(u.Seats) == 0 || len(u.SoldOut) > 0 {
					t.Errorf("refusal names nothing: %+v", u)
				}
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	owner := map[string]string{}
	for id, seats := range got {
		for _, seat := range seats {
			if other, ok := owner[seat]; ok {
				t.Fatalf("seat %s held by %s and %s", seat, other, id)
			}
			owner[seat] = id
		}
	}
	statuses, _, err := s.SeatStatuses(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	heldSeats := 0
	for seat, st := range statuses {
		if (st == SeatHeld) != (owner[seat] != "") {
			t.Fatalf("seat %s is %s, owner %q", seat, st, owner[seat])
		}
		if st == SeatHeld {
			heldSeats++
		}
	}
	mustStock(t, s, "vip", Stock{Capacity: 60, Available: 60 - heldSeats, Held: heldSeats})
	ids, err := s.Holds(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(got) {
		t.Fatalf("%d live holds, %d succeeded", len(ids), len(got))
	}
	mustVerify(t, s, ev)
}

// TestRebuildAfterDrop: losing the keys mid-sale (a flush) rebuilds them from
// the Loader on the next use, with the holds Postgres knows, and sales go on.
func TestRebuildAfterDrop(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 20, Sold: 3}}}
	db.seated("vip", "s", 10, "s10")
	s := newStore(t, db)
	hold := func(h Hold) {
		t.Helper()
		if err := s.Hold(ctx, ev, h); err != nil {
			t.Fatal(err)
		}
		db.record(h)
	}
	for i := range 5 {
		hold(Hold{ID: fmt.Sprint("a", i), ExpiresAt: later(), Items: []Item{{"ga", 2}}, Seats: []string{fmt.Sprint("s", i+1)}})
	}
	// Postgres still lists a pending booking whose time has run out.
	db.record(Hold{ID: "stale", ExpiresAt: time.Now().Add(-time.Second), Items: []Item{{"ga", 1}}, Seats: []string{"s9"}})

	if err := s.Drop(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Holds(ctx, ev); len(ids) != 0 {
		t.Fatalf("holds after drop = %v", ids)
	}
	mustVerify(t, s, ev)
	calls := db.calls.Load()
	hold(Hold{ID: "b0", ExpiresAt: later(), Items: []Item{{"ga", 1}}, Seats: []string{"s6"}})
	if db.calls.Load() != calls+1 {
		t.Fatalf("loader called %d times, want once", db.calls.Load()-calls)
	}
	mustStock(t, s, "ga", Stock{Capacity: 20, Available: 6, Held: 11, Sold: 3})
	mustStock(t, s, "vip", Stock{Capacity: 10, Available: 3, Held: 6, Sold: 1})
	mustSeats(t, s, map[string]SeatStatus{"s1": SeatHeld, "s6": SeatHeld, "s9": SeatAvailable, "s10": SeatSold})
	ids, _ := s.Holds(ctx, ev)
	sort.Strings(ids)
	if want := []string{"a0", "a1", "a2", "a3", "a4", "b0"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("holds = %v, want %v", ids, want)
	}
	mustVerify(t, s, ev)

	// Confirm and Release also rebuild first, so a hold Postgres knows about
	// survives the loss.
	if err := s.Drop(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ok, err := s.Confirm(ctx, ev, "a0")
	mustOK(t, ok, err, true)
	if err := s.Drop(ctx, ev); err != nil {
		t.Fatal(err)
	}
	db.mu.Lock()
	delete(db.holds, "a0")
	db.types[0].Sold += 2
	db.seats[0].Sold = true
	db.mu.Unlock()
	ok, err = s.Release(ctx, ev, "a1")
	mustOK(t, ok, err, true)
	mustStock(t, s, "ga", Stock{Capacity: 20, Available: 8, Held: 7, Sold: 5})
	mustStock(t, s, "vip", Stock{Capacity: 10, Available: 4, Held: 4, Sold: 2})
	mustVerify(t, s, ev)

	// A forced rebuild replaces whatever Redis has with the Loader's view.
	db.mu.Lock()
	delete(db.holds, "a1")
	db.mu.Unlock()
	if err := s.Hold(ctx, ev, Hold{ID: "unrecorded", ExpiresAt: later(), Items: []Item{{"ga", 8}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Rebuild(ctx, ev); err != nil {
		t.Fatal(err)
	}
	mustStock(t, s, "ga", Stock{Capacity: 20, Available: 8, Held: 7, Sold: 5})
	mustVerify(t, s, ev)
}

// TestDropDuringSales: keys lost while holds run concurrently are rebuilt and
// sales go on; the state stays consistent and never oversells.
func TestDropDuringSales(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 60}}}
	db.seated("vip", "s", 40)
	s := newStore(t, db)
	var mu sync.Mutex
	succeeded := map[string]bool{}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			h := Hold{ID: fmt.Sprint("b", i), ExpiresAt: later(), Items: []Item{{"ga", 1}}, Seats: []string{fmt.Sprint("s", 1+rand.IntN(40))}}
			err := s.Hold(ctx, ev, h)
			var u *Unavailable
			switch {
			case err == nil:
				db.record(h)
				mu.Lock()
				succeeded[h.ID] = true
				mu.Unlock()
			case !errors.As(err, &u):
				t.Error(err)
			}
		})
		if i%40 == 20 {
			if err := s.Drop(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	ids, err := s.Holds(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !succeeded[id] {
			t.Fatalf("live hold %s never succeeded", id)
		}
	}
	st, err := s.Availability(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if st["ga"].Held != len(ids) || st["ga"].Held > 60 || st["vip"].Held != len(ids) {
		t.Fatalf("stock %+v with %d live holds", st, len(ids))
	}
	mustVerify(t, s, ev)
}

func TestConcurrentFirstUse(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 100}}, delay: 100 * time.Millisecond}
	db.seated("vip", "s", 50)
	s := newStore(t, db)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			h := Hold{ID: fmt.Sprint("b", i), ExpiresAt: later(), Items: []Item{{"ga", 2}}, Seats: []string{fmt.Sprint("s", i+1)}}
			if err := s.Hold(ctx, ev, h); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := db.calls.Load(); n != 1 {
		t.Errorf("loader called %d times, want 1", n)
	}
	mustStock(t, s, "ga", Stock{Capacity: 100, Held: 100})
	mustStock(t, s, "vip", Stock{Capacity: 50, Held: 50})
	mustVerify(t, s, ev)
}

// lockLosingLoader reads its snapshot, then lets lose happen (the rebuild
// lock lost, and the event loaded by someone else meanwhile) before handing
// that snapshot over; on later calls it is db.
type lockLosingLoader struct {
	db   *fakeDB
	lose func()
	once sync.Once
}

func (l *lockLosingLoader) LoadInventory(ctx context.Context, ev Event) (*Snapshot, error) {
	snap, err := l.db.LoadInventory(ctx, ev)
	l.once.Do(l.lose)
	return snap, err
}

// TestLoaderThatLostTheLockWritesNothing: a loader reads Postgres, and
// before it writes, its rebuild lock is lost (Redis lost its data, or the
// lock's TTL ran out), another instance loads the event, a buyer holds and
// books, and a settlement drops the event again. The first loader's
// snapshot is older than that booking: writing it would forget a hold that
// Postgres has and that its booking's fence has already checked. It writes
// nothing and loads again.
func TestLoaderThatLostTheLockWritesNothing(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10}}}
	c := redistest.New(t)
	other := New(c.UniversalClient, c.Prefix, db)
	booked := Hold{ID: "booked", ExpiresAt: later(), Items: []Item{{"ga", 2}}}
	loader := &lockLosingLoader{db: db}
	s := New(c.UniversalClient, c.Prefix, loader)
	ks, err := s.keys(ev)
	if err != nil {
		t.Fatal(err)
	}
	loader.lose = func() {
		if err := c.Del(ctx, ks.lock).Err(); err != nil {
			t.Error(err)
		}
		if err := other.Hold(ctx, ev, booked); err != nil {
			t.Error(err)
		}
		db.record(booked)
		if ok, err := other.HeldNow(ctx, []Event{ev}, []string{booked.ID}); err != nil || !ok[0] {
			t.Errorf("the booking's fence: held %v, %v", ok, err)
		}
		if err := other.Drop(ctx, ev); err != nil {
			t.Error(err)
		}
	}
	if err := s.Hold(ctx, ev, Hold{ID: "late", ExpiresAt: later(), Items: []Item{{"ga", 1}}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Holds(ctx, ev); !reflect.DeepEqual(ids, []string{"booked", "late"}) {
		t.Fatalf("holds = %v, want [booked late]", ids)
	}
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 7, Held: 3})
	mustVerify(t, s, ev)
}

// TestConfirmAfterARebuildThatCountedTheSale: a sale committed in Postgres
// and rebuilt into Redis before its confirmation ran is counted sold by the
// load, which lists its hold as settled: the confirmation has nothing left
// to do and says so, instead of reporting the hold lost (which would drop
// the event and rebuild it once more). A hold lost and not counted is still
// reported lost.
func TestConfirmAfterARebuildThatCountedTheSale(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10}}}
	db.seated("vip", "s", 3)
	s := newStore(t, db)
	paid := Hold{ID: "paid", ExpiresAt: later(), Items: []Item{{"ga", 2}}, Seats: []string{"s1"}}
	if err := s.Hold(ctx, ev, paid); err != nil {
		t.Fatal(err)
	}
	if err := s.Hold(ctx, ev, Hold{ID: "lost", ExpiresAt: later(), Items: []Item{{"ga", 1}}}); err != nil {
		t.Fatal(err)
	}
	// The settlement commits (sold in Postgres, "paid" no longer pending),
	// then Redis loses the event and is rebuilt before the confirmation.
	db.types[0].Sold = 2
	db.seats[0].Sold = true
	db.settled = []string{"paid"}
	if err := s.Rebuild(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ok, err := s.Confirm(ctx, ev, "paid")
	mustOK(t, ok, err, true)
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 8, Sold: 2})
	mustStock(t, s, "vip", Stock{Capacity: 3, Available: 2, Sold: 1})
	ok, err = s.Confirm(ctx, ev, "lost")
	mustOK(t, ok, err, false)
	mustVerify(t, s, ev)

	// Once confirmed in Postgres too, the next load lists it no more.
	db.settled = nil
	if err := s.Rebuild(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ok, err = s.Confirm(ctx, ev, "paid")
	mustOK(t, ok, err, false)
	mustStock(t, s, "ga", Stock{Capacity: 10, Available: 8, Sold: 2})
}

// TestLoadRefusesOvercommitAndSkipsStrangers: holds that name no stock of
// the event are skipped; holds that do not fit mean Postgres holds more than
// there is (bookings still deciding), and the rebuild refuses to guess.
func TestLoadRefusesOvercommitAndSkipsStrangers(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 5, Sold: 1}}}
	db.seated("vip", "s", 3, "s3")
	db.holds = map[string]Hold{
		"big":    {ID: "big", ExpiresAt: later(), Items: []Item{{"ga", 5}}},                         // more than is left
		"sold":   {ID: "sold", ExpiresAt: later(), Items: []Item{{"ga", 1}}, Seats: []string{"s3"}}, // seat has a ticket
		"ghost":  {ID: "ghost", ExpiresAt: later(), Seats: []string{"s404"}},                        // no such seat
		"seated": {ID: "seated", ExpiresAt: later(), Items: []Item{{"vip", 1}}},                     // seated type as GA
		"ok":     {ID: "ok", ExpiresAt: later(), Items: []Item{{"ga", 4}}, Seats: []string{"s1"}},
	}
	s := newStore(t, db)
	if err := s.Rebuild(ctx, ev); !errors.Is(err, ErrOvercommitted) {
		t.Fatalf("rebuild of an overcommitted snapshot: %v", err)
	}
	err := s.Reassert(ctx, ev, db.holds["big"])
	var u *Unavailable
	if !errors.As(err, &u) || len(u.SoldOut) != 1 {
		t.Fatalf("Reassert against an overcommitted snapshot: %v, want Unavailable", err)
	}
	delete(db.holds, "big")
	delete(db.holds, "sold")
	if err := s.Rebuild(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Holds(ctx, ev); !reflect.DeepEqual(ids, []string{"ok"}) {
		t.Fatalf("holds = %v, want [ok]", ids)
	}
	mustStock(t, s, "ga", Stock{Capacity: 5, Available: 0, Held: 4, Sold: 1})
	mustStock(t, s, "vip", Stock{Capacity: 3, Available: 1, Held: 1, Sold: 1})
	mustVerify(t, s, ev)

	db.seats = append(db.seats, SeatStock{ID: "x", TicketTypeID: "ga"})
	if err := s.Rebuild(ctx, ev); err == nil {
		t.Fatal("rebuild accepted a seat of a GA ticket type")
	}
}

// TestVerifyFindsDamage: Verify notices a counter changed behind the scripts'
// back.
func TestVerifyFindsDamage(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 5}}}
	c := redistest.New(t)
	s := New(c.UniversalClient, c.Prefix, db)
	if err := s.Hold(ctx, ev, Hold{ID: "h", ExpiresAt: later(), Items: []Item{{"ga", 2}}}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, s, ev)
	ks, _ := s.keys(ev)
	c.HIncrBy(ctx, ks.data[3], "ga", 1)
	problems, err := s.Verify(ctx, ev)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], "available 4 + held 2 + sold 0 != capacity 5") {
		t.Fatalf("problems = %q, %v", problems, err)
	}
}

func TestInfoRoundTrip(t *testing.T) {
	items := []Item{{"a", 1}, {"b", 22}}
	seats := []string{"s1", "s 2"}
	gotItems, gotSeats, err := decodeInfo(encodeInfo(items, seats))
	if err != nil || !reflect.DeepEqual(gotItems, items) || !reflect.DeepEqual(gotSeats, seats) {
		t.Fatalf("%v %v %v", gotItems, gotSeats, err)
	}
}

// TestSeatVersion: the seat version moves with every change of a seat and
// only then, matches the statuses read with it, and never names two states,
// even across a drop and reload.
func TestSeatVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10}}}
	db.seated("vip", "s", 3)
	s := newStore(t, db)
	seen := map[string]bool{}
	version := func() string {
		t.Helper()
		v, err := s.SeatVersion(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		_, withStatuses, err := s.SeatStatuses(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if v == "" || v != withStatuses {
			t.Fatalf("SeatVersion %q, SeatStatuses at %q", v, withStatuses)
		}
		return v
	}
	changed := func(step string, before string) string {
		t.Helper()
		v := version()
		if v == before || seen[v] {
			t.Fatalf("%s: seat version %q did not move to a new value (before %q)", step, v, before)
		}
		seen[v] = true
		return v
	}
	same := func(step string, before string) {
		t.Helper()
		if v := version(); v != before {
			t.Fatalf("%s: seat version moved from %q to %q, but no seat changed", step, before, v)
		}
	}

	v := changed("first load", "")
	same("reading again", v)
	if err := s.Hold(ctx, ev, Hold{ID: "ga-only", ExpiresAt: later(), Items: []Item{{"ga", 2}}}); err != nil {
		t.Fatal(err)
	}
	same("a general-admission hold", v)
	if err := s.Hold(ctx, ev, Hold{ID: "h1", ExpiresAt: later(), Seats: []string{"s1"}}); err != nil {
		t.Fatal(err)
	}
	v = changed("a seat hold", v)
	var u *Unavailable
	if err := s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Seats: []string{"s1", "s2"}}); !errors.As(err, &u) {
		t.Fatalf("hold of a held seat: %v", err)
	}
	same("a refused hold", v)
	ok, err := s.Release(ctx, ev, "h1")
	mustOK(t, ok, err, true)
	v = changed("a release", v)
	if err := s.Hold(ctx, ev, Hold{ID: "h3", ExpiresAt: later(), Seats: []string{"s2"}}); err != nil {
		t.Fatal(err)
	}
	v = changed("another hold", v)
	ok, err = s.Confirm(ctx, ev, "h3")
	mustOK(t, ok, err, true)
	v = changed("a sale", v)
	if err := s.Hold(ctx, ev, Hold{ID: "short", ExpiresAt: time.Now().Add(2 * time.Second), Seats: []string{"s3"}}); err != nil {
		t.Fatal(err)
	}
	v = changed("a hold that expires", v)
	waitExpired(t, s, "short")
	v = changed("the expired hold reclaimed", v)

	// A drop (a catalog change) and a reload, or a lost Redis, give a new
	// version although the seats read the same.
	if err := s.Drop(ctx, ev); err != nil {
		t.Fatal(err)
	}
	v = changed("a reload after a drop", v)
	if err := s.Rebuild(ctx, ev); err != nil {
		t.Fatal(err)
	}
	changed("a forced rebuild", v)
	mustVerify(t, s, ev)
}
