package httpapi_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// roomPath is the waiting room of the sale's event.
func (s *sale) roomPath() string { return "/v1/events/" + s.event + "/waiting-room" }

// openRoom configures the sale's room to open in an hour at perMinute.
func (s *sale) openRoom(perMinute int) {
	s.t.Helper()
	s.mustCall(200, "PUT", s.roomPath(), map[string]any{"opensAt": s.clock.now().Add(time.Hour).Format(time.RFC3339Nano),
		"admitPerMinute": perMinute, "admissionWindowSeconds": 120})
}

// join queues a buyer and returns the token.
func (s *sale) join(buyer session, headers ...string) response {
	s.t.Helper()
	r := request{method: "POST", path: s.roomPath(), host: s.slug + ".tickets.test",
		headers: map[string]string{"Authorization": "Bearer " + buyer.access}}
	for i := 0; i+1 < len(headers); i += 2 {
		r.headers[headers[i]] = headers[i+1]
	}
	return s.do(r)
}

func (s *sale) mustJoin(buyer session) string {
	s.t.Helper()
	res := s.join(buyer)
	if res.status != 200 {
		s.t.Fatalf("join: %d %s", res.status, res.raw)
	}
	return res.body["token"].(string)
}

func (s *sale) roomStatus(buyer session, token string) response {
	s.t.Helper()
	return s.do(request{method: "GET", path: s.roomPath(), host: s.slug + ".tickets.test",
		headers: map[string]string{"Authorization": "Bearer " + buyer.access, httpapi.HeaderWaitingRoomToken: token}})
}

// heldAndBooked is what the sale's event has held in Redis and booked in
// Postgres.
func (s *sale) heldAndBooked() (held float64, rows int) {
	s.t.Helper()
	err := s.db.Admin.QueryRow(s.t.Context(), "SELECT count(*) FROM bookings WHERE event_id = $1", s.event).Scan(&rows)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.stockOf(s.ga)["held"].(float64), rows
}

// TestWaitingRoomConfig: organizers configure, read and remove the room;
// bad configurations are 400s; another organizer sees nothing of it.
func TestWaitingRoomConfig(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 10, 1)
	opens := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for name, body := range map[string]map[string]any{
		"noOpensAt":    {"admitPerMinute": 10},
		"badOpensAt":   {"opensAt": "tomorrow"},
		"rateNegative": {"opensAt": opens, "admitPerMinute": -1},
		"rateTooHigh":  {"opensAt": opens, "admitPerMinute": 100001},
		"windowShort":  {"opensAt": opens, "admissionWindowSeconds": 59},
		"windowLong":   {"opensAt": opens, "admissionWindowSeconds": 3601},
		"unknownField": {"opensAt": opens, "rate": 5},
	} {
		t.Run(name, func(t *testing.T) { assertError(t, s.call("PUT", s.roomPath(), body), 400, ticketing.CodeValidation) })
	}
	if res := s.call("GET", s.roomPath(), nil); res.status != 404 {
		t.Fatalf("no room yet: %d %s", res.status, res.raw)
	}
	room := s.mustCall(200, "PUT", s.roomPath(), map[string]any{"opensAt": opens, "admitPerMinute": 500})
	if room["enabled"] != true || room["admitPerMinute"] != float64(500) || room["admissionWindowSeconds"] != float64(600) ||
		room["opensAt"] != opens.Format(time.RFC3339) || room["eventId"] != s.event {
		t.Fatalf("room %v", room)
	}
	if got := s.mustCall(200, "GET", s.roomPath(), nil); got["admitPerMinute"] != float64(500) {
		t.Fatalf("read back %v", got)
	}
	// A buyer's GET is their status, which needs their token.
	assertError(t, s.as(s.buyers[0].access, s.slug, "GET", s.roomPath(), nil), 400, ticketing.CodeValidation)
	assertError(t, s.as(s.buyers[0].access, s.slug, "PUT", s.roomPath(), map[string]any{"opensAt": opens}), 403, ticketing.CodeForbidden)

	// Another organizer: the event and its room do not exist for them.
	s.createTenant("globex")
	other := s.signinAdmin("globex").access
	for _, m := range []string{"GET", "DELETE"} {
		assertError(t, s.as(other, "globex", m, s.roomPath(), nil), 404, ticketing.CodeNotFound)
	}
	assertError(t, s.as(other, "globex", "PUT", s.roomPath(), map[string]any{"opensAt": opens}), 404, ticketing.CodeNotFound)
	otherBuyer := s.signup("globex", "buyer@example.com")
	assertError(t, s.as(otherBuyer.access, "globex", "POST", s.roomPath(), nil), 409, ticketing.CodeRoomDisabled)
	if got := s.mustCall(200, "GET", s.roomPath(), nil); got["admitPerMinute"] != float64(500) || got["enabled"] != true {
		t.Fatalf("the other organizer changed the room: %v", got)
	}

	// enabled false keeps the configuration but lets everyone book.
	s.mustCall(200, "PUT", s.roomPath(), map[string]any{"opensAt": opens, "enabled": false})
	assertError(t, s.join(s.buyers[0]), 409, ticketing.CodeRoomDisabled)
	s.mustCall(204, "DELETE", s.roomPath(), nil)
	assertError(t, s.call("GET", s.roomPath(), nil), 404, ticketing.CodeNotFound)
	assertError(t, s.call("DELETE", s.roomPath(), nil), 404, ticketing.CodeNotFound)
	if n := s.count("event_waiting_rooms"); n != 0 {
		t.Fatalf("%d rooms left", n)
	}
}

// TestWaitingRoomGatesBookings: once the room is open, a booking needs an
// admitted token of the same buyer and event; refusals hold and write
// nothing; an admitted buyer books until the admission expires.
func TestWaitingRoomGatesBookings(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 10, 3)
	s.openRoom(60) // one a second
	first, second, third := s.buyers[0], s.buyers[1], s.buyers[2]
	// Before the room opens, the sale is not gated.
	if res := s.book(third, s.gaBody(1)); res.status != 201 {
		t.Fatalf("booking before the room opens: %d %s", res.status, res.raw)
	}
	heldBefore, rowsBefore := s.heldAndBooked()

	firstToken := s.mustJoin(first)
	if again := s.mustJoin(first); again != firstToken {
		t.Fatal("joining twice gave another token")
	}
	secondToken := s.mustJoin(second)
	st := s.roomStatus(first, firstToken)
	if st.status != 200 || st.body["state"] != ticketing.QueueBeforeOpen || st.body["admitted"] != false || st.body["admittedUntil"] != nil {
		t.Fatalf("status before opening: %d %s", st.status, st.raw)
	}
	// Both joined before the room opened: their order is drawn, so first
	// is whoever was drawn first.
	if st.body["position"] != float64(1) {
		first, second, firstToken, secondToken = second, first, secondToken, firstToken
	}

	s.clock.advance(time.Hour)
	refusals := []struct {
		buyer   session
		headers []string
		code    string
	}{
		{first, nil, ticketing.CodeAdmissionRequired},
		{second, []string{httpapi.HeaderWaitingRoomToken, secondToken}, ticketing.CodeAdmissionRequired},
		{second, []string{httpapi.HeaderWaitingRoomToken, firstToken}, ticketing.CodeRoomTokenInvalid},
		{first, []string{httpapi.HeaderWaitingRoomToken, firstToken + "x"}, ticketing.CodeRoomTokenInvalid},
		{first, []string{httpapi.HeaderWaitingRoomToken, "garbage"}, ticketing.CodeRoomTokenInvalid},
	}
	for _, r := range refusals {
		assertError(t, s.book(r.buyer, s.gaBody(1), r.headers...), 403, r.code)
	}
	// The seated type is gated too.
	assertError(t, s.book(first, map[string]any{"eventId": s.event, "seats": []string{s.seats[0]}}), 403, ticketing.CodeAdmissionRequired)
	if held, rows := s.heldAndBooked(); held != heldBefore || rows != rowsBefore {
		t.Fatalf("refused bookings held %v (was %v) or wrote %d rows (was %d)", held, heldBefore, rows, rowsBefore)
	}
	if s.stockOf(s.seated)["held"] != float64(0) {
		t.Fatal("a refused booking held a seat")
	}

	s.clock.advance(1500 * time.Millisecond)
	st = s.roomStatus(first, firstToken)
	if st.body["state"] != ticketing.QueueAdmitted || st.body["admitted"] != true || st.body["admittedUntil"] == nil || st.body["position"] != float64(1) {
		t.Fatalf("first after 1.5 s: %s", st.raw)
	}
	if st := s.roomStatus(second, secondToken); st.body["state"] != ticketing.QueueWaiting || st.body["ahead"] != float64(0) {
		t.Fatalf("second after 1.5 s: %s", st.raw)
	}
	if res := s.book(first, s.gaBody(2), httpapi.HeaderWaitingRoomToken, firstToken); res.status != 201 {
		t.Fatalf("admitted booking: %d %s", res.status, res.raw)
	}
	assertError(t, s.book(second, s.gaBody(1), httpapi.HeaderWaitingRoomToken, secondToken), 403, ticketing.CodeAdmissionRequired)

	// The admission lasts its window (120 s here).
	s.clock.advance(2 * time.Minute)
	assertError(t, s.book(first, s.gaBody(1), httpapi.HeaderWaitingRoomToken, firstToken), 403, ticketing.CodeAdmissionRequired)
	if st := s.roomStatus(first, firstToken); st.body["state"] != ticketing.QueueExpired {
		t.Fatalf("after the window: %s", st.raw)
	}
	// Meanwhile the second was admitted.
	if res := s.book(second, s.gaBody(1), httpapi.HeaderWaitingRoomToken, secondToken); res.status != 201 {
		t.Fatalf("second admitted booking: %d %s", res.status, res.raw)
	}
	s.checkInvariants()
}

// TestWaitingRoomNotQueuedAfterRedisLoss: a lost queue answers 404
// WAITING_ROOM_NOT_QUEUED and the client joins again.
func TestWaitingRoomNotQueuedAfterRedisLoss(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 10, 1)
	s.openRoom(60)
	token := s.mustJoin(s.buyers[0])
	iter := s.rdb.Scan(s.t.Context(), 0, s.rdb.Prefix+"wr:*", 100).Iterator()
	for iter.Next(s.t.Context()) {
		s.rdb.Del(s.t.Context(), iter.Val())
	}
	assertError(t, s.roomStatus(s.buyers[0], token), 404, ticketing.CodeNotQueued)
	again := s.mustJoin(s.buyers[0])
	if st := s.roomStatus(s.buyers[0], again); st.status != 200 || st.body["position"] != float64(1) {
		t.Fatalf("after joining again: %d %s", st.status, st.raw)
	}
}

// TestWaitingRoomJoinLimit: joins are limited per client address and
// tenant, with Retry-After.
func TestWaitingRoomJoinLimit(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 10, 4, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.WaitingRoomJoinLimitIP = 3
		c.TrustedProxies = []string{"0.0.0.0/32"} // the address app.Test reports for its client
	})
	s.openRoom(0)
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	for i := range 3 {
		if res := s.join(s.buyers[i], from("203.0.113.7")...); res.status != 200 {
			t.Fatalf("join %d: %d %s", i, res.status, res.raw)
		}
	}
	res := s.join(s.buyers[3], from("203.0.113.7")...)
	assertError(t, res, 429, ticketing.CodeTooManyRequests)
	if ra, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", res.header.Get("Retry-After"))
	}
	if res := s.join(s.buyers[3], from("203.0.113.8")...); res.status != 200 {
		t.Fatalf("another address: %d %s", res.status, res.raw)
	}
}

// TestWaitingRoomEventStream: the stream sends the status until it ends
// for a reconnect, and ends at once when the server shuts down.
func TestWaitingRoomEventStream(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 10, 1, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.WaitingRoomStreamFor, c.WaitingRoomStreamEvery = 300*time.Millisecond, 50*time.Millisecond
	})
	s.openRoom(60)
	token := s.mustJoin(s.buyers[0])
	res := s.do(request{method: "GET", path: s.roomPath() + "/events?token=" + token, host: s.slug + ".tickets.test",
		headers: map[string]string{"Authorization": "Bearer " + s.buyers[0].access}})
	body := string(res.raw)
	if res.status != 200 || res.header.Get("Content-Type") != "text/event-stream" || strings.Count(body, "event: status\n") < 3 ||
		!strings.Contains(body, `"state":"before_open"`) || !strings.HasSuffix(body, "event: end\ndata: {\"reason\":\"reconnect\"}\n\n") {
		t.Fatalf("stream: %d %q", res.status, body)
	}
	assertError(t, s.do(request{method: "GET", path: s.roomPath() + "/events", host: s.slug + ".tickets.test",
		headers: map[string]string{"Authorization": "Bearer " + s.buyers[0].access, httpapi.HeaderWaitingRoomToken: "wr1.x.y"}}),
		403, ticketing.CodeRoomTokenInvalid)
}

// TestWaitingRoomStreamEndsOnShutdown: a long stream does not hold up the
// server's shutdown.
func TestWaitingRoomStreamEndsOnShutdown(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 10, 1, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.WaitingRoomStreamFor, c.WaitingRoomStreamEvery = time.Hour, 20*time.Millisecond
	})
	s.openRoom(60)
	token := s.mustJoin(s.buyers[0])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.srv.App().Listener(ln) }()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+ln.Addr().String()+s.roomPath()+"/events", nil)
	req.Host = s.slug + ".tickets.test"
	req.Header.Set("Authorization", "Bearer "+s.buyers[0].access)
	req.Header.Set(httpapi.HeaderWaitingRoomToken, token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	for events := 0; events < 3 && lines.Scan(); {
		if lines.Text() == "event: status" {
			events++
		}
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- s.srv.Shutdown(ctx)
	}()
	var last string
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "data: ") {
			last = lines.Text()
		}
	}
	if last != `data: {"reason":"shutdown"}` {
		t.Fatalf("the stream ended with %q", last)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestWaitingRoomRetriedBooking: a booking made with an Idempotency-Key
// while admitted is answered again to the same request with the key after
// the admission ended, with a lost or foreign token, and after Redis lost
// the event, exactly as a retry while admitted is; the key with another
// request, a new key and another buyer's use of the key stay 403 without a
// Postgres read. No refusal holds or writes anything.
func TestWaitingRoomRetriedBooking(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 10, 2)
	s.openRoom(60)
	buyer, other := s.buyers[0], s.buyers[1]
	token := s.mustJoin(buyer)
	s.clock.advance(time.Hour + 1500*time.Millisecond)
	if st := s.roomStatus(buyer, token); st.body["state"] != ticketing.QueueAdmitted {
		t.Fatalf("not admitted: %s", st.raw)
	}
	key := func(k string, more ...string) []string { return append([]string{"Idempotency-Key", k}, more...) }
	withToken := []string{httpapi.HeaderWaitingRoomToken, token}

	first := s.book(buyer, s.gaBody(2), key("k1", withToken...)...)
	if first.status != 201 || first.body["status"] != "pending" {
		t.Fatalf("admitted booking: %d %s", first.status, first.raw)
	}
	retry := s.book(buyer, s.gaBody(2), key("k1", withToken...)...)
	if retry.status != 201 || retry.body["id"] != first.body["id"] {
		t.Fatalf("retry while admitted: %d %s", retry.status, retry.raw)
	}

	s.clock.advance(2 * time.Minute)
	if st := s.roomStatus(buyer, token); st.body["state"] != ticketing.QueueExpired {
		t.Fatalf("after the window: %s", st.raw)
	}
	held, rows := s.heldAndBooked()
	same := func(res response, when string) {
		t.Helper()
		if res.status != 201 || string(res.raw) != string(retry.raw) {
			t.Fatalf("%s: %d %s, want 201 %s", when, res.status, res.raw, retry.raw)
		}
	}
	finds := s.store.finds.Load()
	same(s.book(buyer, s.gaBody(2), key("k1", withToken...)...), "retry after the admission")
	same(s.book(buyer, s.gaBody(2), key("k1")...), "retry without a token")
	same(s.book(buyer, s.gaBody(2), key("k1", httpapi.HeaderWaitingRoomToken, "garbage")...), "retry with a bad token")
	if got := s.store.finds.Load() - finds; got != 3 {
		t.Fatalf("%d Postgres reads for 3 retries", got)
	}

	finds = s.store.finds.Load()
	refusals := []struct {
		name    string
		buyer   session
		body    map[string]any
		headers []string
		code    string
	}{
		{"anotherRequest", buyer, s.gaBody(1), key("k1", withToken...), ticketing.CodeAdmissionRequired},
		{"anotherRequestNoToken", buyer, s.gaBody(1), key("k1"), ticketing.CodeAdmissionRequired},
		{"newKey", buyer, s.gaBody(2), key("k2", withToken...), ticketing.CodeAdmissionRequired},
		{"newKeyBadToken", buyer, s.gaBody(2), key("k2", httpapi.HeaderWaitingRoomToken, "garbage"), ticketing.CodeRoomTokenInvalid},
		{"noKey", buyer, s.gaBody(2), withToken, ticketing.CodeAdmissionRequired},
		{"anotherBuyer", other, s.gaBody(2), key("k1"), ticketing.CodeAdmissionRequired},
	}
	for _, r := range refusals {
		assertError(t, s.book(r.buyer, r.body, r.headers...), 403, r.code)
	}
	if got := s.store.finds.Load() - finds; got != 0 {
		t.Fatalf("refused keys read Postgres %d times", got)
	}
	if h, n := s.heldAndBooked(); h != held || n != rows {
		t.Fatalf("held %v (was %v) and %d rows (was %d) after retries and refusals", h, held, n, rows)
	}

	// Redis loses the event: the keyed hash is rebuilt before answering.
	if err := s.stock.Drop(t.Context(), inventory.Event{TenantID: s.tenantID(), EventID: s.event}); err != nil {
		t.Fatal(err)
	}
	same(s.book(buyer, s.gaBody(2), key("k1")...), "retry after Redis lost the event")
	assertError(t, s.book(buyer, s.gaBody(1), key("k1")...), 403, ticketing.CodeAdmissionRequired)
	if h, n := s.heldAndBooked(); h != held || n != rows {
		t.Fatalf("held %v (was %v) and %d rows (was %d) after the rebuild", h, held, n, rows)
	}
	s.checkInvariants()
}
