package httpapi_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// limitType sets the GA ticket type's maxPerBuyer (nil: no limit).
func (s *sale) limitType(limit any) {
	s.t.Helper()
	tt := s.mustCall(200, "GET", "/v1/events/"+s.event, nil)["ticketTypes"].([]any)
	for _, t := range tt {
		if m := t.(map[string]any); m["id"] == s.ga {
			s.mustCall(200, "PATCH", "/v1/ticket-types/"+s.ga, map[string]any{"version": m["version"], "maxPerBuyer": limit})
			return
		}
	}
	s.t.Fatalf("no ticket type %s", s.ga)
}

// limitEvent sets the event's maxTicketsPerBuyer (nil: no limit).
func (s *sale) limitEvent(limit any) {
	s.t.Helper()
	e := s.mustCall(200, "GET", "/v1/events/"+s.event, nil)
	s.mustCall(200, "PATCH", "/v1/events/"+s.event, map[string]any{"version": e["version"], "maxTicketsPerBuyer": limit})
}

// ownedBy counts the tickets a buyer holds (live pending bookings) and owns
// (tickets not void) in the sale's event, from Postgres.
func (s *sale) ownedBy(buyer session) int {
	s.t.Helper()
	var n int
	err := s.db.Admin.QueryRow(s.t.Context(), `SELECT
		(SELECT COALESCE(sum(i.quantity), 0) FROM booking_items i JOIN bookings b ON b.id = i.booking_id
		  WHERE b.event_id = $1 AND b.user_id = $2 AND b.status = 'pending' AND b.expires_at > now()) +
		(SELECT count(*) FROM tickets k JOIN bookings b ON b.id = k.booking_id
		  WHERE b.event_id = $1 AND b.user_id = $2 AND k.status <> 'void')`,
		s.event, buyer.userID).Scan(&n)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// assertLimit checks a 409 BUYER_LIMIT_REACHED or OPEN_HOLDS_LIMIT with its
// details.
func assertLimit(t *testing.T, res response, code, kind string, limit, current int) {
	t.Helper()
	assertError(t, res, 409, code)
	d, _ := res.body["details"].(map[string]any)
	if d["limit"] != kind || d["max"] != float64(limit) || d["current"] != float64(current) {
		t.Fatalf("details %v, want limit %s max %d current %d", d, kind, limit, current)
	}
}

// TestBuyerLimitConcurrentBookings is issue 15's sale: capacity 40 and
// maxPerOrder 4, one buyer firing many bookings at once. With maxPerBuyer 4
// on the GA type and maxTicketsPerBuyer 6 on the event, the buyer ends with
// at most 4 GA tickets and 6 in all, and the others still buy.
func TestBuyerLimitConcurrentBookings(t *testing.T) {
	t.Parallel()
	s := newSale(t, 40, 20, 3)
	s.limitType(4)
	s.limitEvent(6)
	greedy := s.buyers[0]
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := s.gaBody(1 + i%2)
			if i%3 == 0 {
				body = map[string]any{"eventId": s.event, "seats": []string{s.seats[i/3]}}
			}
			res := s.book(greedy, body)
			mu.Lock()
			got[res.status]++
			mu.Unlock()
			if res.status != 201 && !(res.status == 409 && res.body["code"] == ticketing.CodeBuyerLimitReached) {
				t.Errorf("attempt %d: %d %s", i, res.status, res.raw)
			}
		}()
	}
	wg.Wait()
	if n := s.ownedBy(greedy); n > 6 || got[201] == 0 || got[409] == 0 {
		t.Fatalf("the buyer holds %d tickets (limit 6) after %v", n, got)
	}
	var ga int
	if err := s.db.Admin.QueryRow(t.Context(), `SELECT COALESCE(sum(i.quantity), 0) FROM booking_items i JOIN bookings b ON b.id = i.booking_id
		WHERE b.user_id = $1 AND i.ticket_type_id = $2 AND b.status = 'pending'`, greedy.userID, s.ga).Scan(&ga); err != nil || ga > 4 {
		t.Fatalf("the buyer holds %d GA tickets (limit 4), %v", ga, err)
	}
	// The storm left the buyer at or below the limits; single seats fill
	// the rest of the event's allowance, and then it holds.
	for j := 10; s.ownedBy(greedy) < 6; j++ {
		if res := s.book(greedy, map[string]any{"eventId": s.event, "seats": []string{s.seats[j]}}); res.status != 201 {
			t.Fatalf("seat %d: %d %s", j, res.status, res.raw)
		}
	}
	assertLimit(t, s.book(greedy, map[string]any{"eventId": s.event, "seats": []string{s.seats[19]}}),
		ticketing.CodeBuyerLimitReached, inventory.LimitEvent, 6, 6)
	for _, other := range s.buyers[1:] {
		if res := s.book(other, s.gaBody(4)); res.status != 201 {
			t.Fatalf("another buyer: %d %s", res.status, res.raw)
		}
	}
	s.checkInvariants()
}

// TestBuyerLimitCountsBoughtAndFreesReleased: paid tickets count against
// the limit; cancelled and expired bookings give their tickets back to it.
func TestBuyerLimitCountsBoughtAndFreesReleased(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	s.limitType(4)
	buyer := s.buyers[0]
	paid := s.bookGA(buyer, 3)
	res := s.callback(s.simPay(s.checkout(buyer, paid), paystacksim.OutcomeSuccess), nil)
	if res.status != 200 || res.body["bookingStatus"] != "confirmed" {
		t.Fatalf("payment: %d %s", res.status, res.raw)
	}
	assertLimit(t, s.book(buyer, s.gaBody(2)), ticketing.CodeBuyerLimitReached, inventory.LimitTicketType, 4, 3)

	// Cancelling a pending booking frees its tickets.
	pending := s.bookGA(buyer, 1)
	assertLimit(t, s.book(buyer, s.gaBody(1)), ticketing.CodeBuyerLimitReached, inventory.LimitTicketType, 4, 4)
	if res := s.as(buyer.access, s.slug, "POST", "/v1/bookings/"+pending+"/cancel", nil); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.raw)
	}
	expiring := s.bookGA(buyer, 1)

	// So does expiry.
	if _, err := s.db.Admin.Exec(t.Context(), "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1", expiring); err != nil {
		t.Fatal(err)
	}
	ctx := ticketing.WithActor(ticketing.WithTenant(t.Context(), &ticketing.Tenant{ID: s.tenantID()}), ticketing.SystemActor("test"))
	if n, err := s.bookings.SweepExpired(ctx); n != 1 || err != nil {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	s.bookGA(buyer, 1)
	assertLimit(t, s.book(buyer, s.gaBody(1)), ticketing.CodeBuyerLimitReached, inventory.LimitTicketType, 4, 4)

	// Lifting the limit lets the buyer buy more.
	s.limitType(nil)
	s.bookGA(buyer, 2)
}

// TestBuyerLimitSurvivesRedisLoss: with the event's Redis keys gone, the
// rebuild counts what the buyer holds and bought from Postgres, and the
// limit still holds.
func TestBuyerLimitSurvivesRedisLoss(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	s.limitEvent(5)
	buyer := s.buyers[0]
	paid := s.bookGA(buyer, 2)
	if res := s.callback(s.simPay(s.checkout(buyer, paid), paystacksim.OutcomeSuccess), nil); res.body["bookingStatus"] != "confirmed" {
		t.Fatalf("payment: %d %s", res.status, res.raw)
	}
	s.bookGA(buyer, 2)
	ev := inventory.Event{TenantID: s.tenantID(), EventID: s.event}
	keys, err := s.rdb.Keys(t.Context(), s.rdb.Key("inv:{"+ev.TenantID+":"+ev.EventID+"}:*")).Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	if err := s.rdb.Del(t.Context(), keys...).Err(); err != nil {
		t.Fatal(err)
	}
	assertLimit(t, s.book(buyer, s.gaBody(2)), ticketing.CodeBuyerLimitReached, inventory.LimitEvent, 5, 4)
	counts, err := s.stock.Buyers(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	uid := buyer.userID
	if counts["t:"+uid] != 4 || counts["y:"+uid+":"+s.ga] != 4 || counts["o:"+uid] != 1 {
		t.Fatalf("counts after the rebuild: %v", counts)
	}
	s.bookGA(buyer, 1)
	assertLimit(t, s.book(buyer, s.gaBody(1)), ticketing.CodeBuyerLimitReached, inventory.LimitEvent, 5, 5)
	if res := s.book(s.buyers[1], s.gaBody(5)); res.status != 201 {
		t.Fatalf("another buyer: %d %s", res.status, res.raw)
	}
	if problems, err := s.stock.Verify(t.Context(), ev); err != nil || len(problems) > 0 {
		t.Fatalf("Redis inventory: %v %v", problems, err)
	}
}

// TestOpenHoldsLimit: a buyer has at most so many unpaid bookings of one
// event; paying for or cancelling one makes room.
func TestOpenHoldsLimit(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	s.bookings.SetMaxOpenHolds(2)
	buyer := s.buyers[0]
	first := s.bookGA(buyer, 1)
	second := s.bookGA(buyer, 1)
	assertLimit(t, s.book(buyer, s.gaBody(1)), ticketing.CodeOpenHoldsLimit, inventory.LimitOpenHolds, 2, 2)
	s.bookGA(s.buyers[1], 1)
	if res := s.callback(s.simPay(s.checkout(buyer, first), paystacksim.OutcomeSuccess), nil); res.body["bookingStatus"] != "confirmed" {
		t.Fatalf("payment: %d %s", res.status, res.raw)
	}
	third := s.bookGA(buyer, 1)
	assertLimit(t, s.book(buyer, s.gaBody(1)), ticketing.CodeOpenHoldsLimit, inventory.LimitOpenHolds, 2, 2)
	for _, b := range []string{second, third} {
		if res := s.as(buyer.access, s.slug, "POST", "/v1/bookings/"+b+"/cancel", nil); res.status != 200 {
			t.Fatalf("cancel: %d %s", res.status, res.raw)
		}
	}
	s.bookGA(buyer, 1)
	s.bookGA(buyer, 1)
}

// TestBookingRateLimits: booking requests are counted per tenant+user and
// per tenant+client address; past either, 429 with Retry-After. Another
// user, another address and another tenant have budgets of their own.
func TestBookingRateLimits(t *testing.T) {
	t.Parallel()
	s := newPaySale(t, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.BookingRateLimitUser, c.BookingRateLimitIP = 3, 5
		c.TrustedProxies = []string{"0.0.0.0/32"} // the address app.Test reports for its client
	})
	s.createTenant("globex")
	oc := &catalog{testAPI: s.testAPI, slug: "globex", token: s.signinAdmin("globex").access}
	og := &sale{catalog: oc}
	og.event = id(oc.event(id(oc.venue(nil))))
	og.ga = id(oc.gaType(og.event, 20))
	oc.mustCall(200, "POST", "/v1/events/"+og.event+"/publish", nil)
	otherBuyer := oc.signup("globex", "buyer@example.com")

	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	// Per user: the fourth request of one buyer in the window is refused,
	// whatever its address.
	for i := range 3 {
		if res := s.book(s.buyers[0], s.gaBody(1), from("198.51.100."+strconv.Itoa(i+1))...); res.status != 201 {
			t.Fatalf("booking %d: %d %s", i, res.status, res.raw)
		}
	}
	res := s.book(s.buyers[0], s.gaBody(1), from("198.51.100.9")...)
	assertError(t, res, 429, ticketing.CodeTooManyRequests)
	if ra, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", res.header.Get("Retry-After"))
	}
	if res := s.book(s.buyers[1], s.gaBody(1), from("198.51.100.9")...); res.status != 201 {
		t.Fatalf("another buyer: %d %s", res.status, res.raw)
	}

	// Per address: five requests from one address, of any buyers, then 429.
	for i := range 4 {
		if res := s.book(s.buyers[1], s.gaBody(1), from("203.0.113.7")...); i < 2 && res.status != 201 {
			t.Fatalf("booking %d from the address: %d %s", i, res.status, res.raw)
		}
	}
	// buyers[1] has spent its three; buyers[0] too: the address's budget is
	// what refuses the next request of a fresh buyer.
	fresh := s.signup(s.slug, "fresh@example.com")
	if res := s.book(fresh, s.gaBody(1), from("203.0.113.7")...); res.status != 201 {
		t.Fatalf("fifth from the address: %d %s", res.status, res.raw)
	}
	res = s.book(s.signup(s.slug, "fresh2@example.com"), s.gaBody(1), from("203.0.113.7")...)
	assertError(t, res, 429, ticketing.CodeTooManyRequests)
	if res.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}

	// Another tenant: the same address and a fresh user budget.
	if res := og.book(otherBuyer, og.gaBody(1), from("203.0.113.7")...); res.status != 201 {
		t.Fatalf("the other tenant, same address: %d %s", res.status, res.raw)
	}
}

// TestBuyerLimitSettings: the limits are optional, bounded, shown, and
// removed with null.
func TestBuyerLimitSettings(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	v := c.venue(nil)
	body := eventBody(id(v), 0)
	body["maxTicketsPerBuyer"] = 0
	res := c.call("POST", "/v1/events", body)
	assertError(t, res, 400, ticketing.CodeValidation)
	if !strings.Contains(string(res.raw), "maxTicketsPerBuyer must be 1-10000") {
		t.Fatalf("message: %s", res.raw)
	}
	body["maxTicketsPerBuyer"] = 8
	e := c.mustCall(201, "POST", "/v1/events", body)
	if e["maxTicketsPerBuyer"] != float64(8) {
		t.Fatalf("event: %v", e)
	}
	path := "/v1/events/" + id(e) + "/ticket-types"
	for _, bad := range []any{0, -1, 10001, "4"} {
		res := c.call("POST", path, map[string]any{"name": "GA", "kind": "general_admission", "price": 0, "capacity": 5, "maxPerBuyer": bad})
		assertError(t, res, 400, ticketing.CodeValidation)
		if !strings.Contains(string(res.raw), "maxPerBuyer") {
			t.Fatalf("maxPerBuyer %v: %s", bad, res.raw)
		}
	}
	plain := c.mustCall(201, "POST", path, map[string]any{"name": "Free", "kind": "general_admission", "price": 0, "capacity": 5})
	if v, ok := plain["maxPerBuyer"]; !ok || v != nil {
		t.Fatalf("no limit is null: %v", plain)
	}
	tt := c.mustCall(201, "POST", path, map[string]any{"name": "GA", "kind": "general_admission", "price": 0, "capacity": 5, "maxPerBuyer": 2})
	if tt["maxPerBuyer"] != float64(2) {
		t.Fatalf("ticket type: %v", tt)
	}
	// Leaving the field out keeps it; null removes it.
	tt = c.mustCall(200, "PATCH", "/v1/ticket-types/"+id(tt), map[string]any{"version": tt["version"], "name": "Standing"})
	if tt["maxPerBuyer"] != float64(2) {
		t.Fatalf("after a patch without it: %v", tt)
	}
	assertError(t, c.call("PATCH", "/v1/ticket-types/"+id(tt), map[string]any{"version": tt["version"], "maxPerBuyer": 0}), 400, ticketing.CodeValidation)
	tt = c.mustCall(200, "PATCH", "/v1/ticket-types/"+id(tt), map[string]any{"version": tt["version"], "maxPerBuyer": nil})
	if v, ok := tt["maxPerBuyer"]; !ok || v != nil {
		t.Fatalf("after null: %v", tt)
	}
	e = c.mustCall(200, "PATCH", "/v1/events/"+id(e), map[string]any{"version": e["version"], "maxTicketsPerBuyer": nil})
	if v, ok := e["maxTicketsPerBuyer"]; !ok || v != nil {
		t.Fatalf("event after null: %v", e)
	}
	assertError(t, c.call("PATCH", "/v1/events/"+id(e), map[string]any{"version": e["version"], "maxTicketsPerBuyer": 10001}), 400, ticketing.CodeValidation)
}
