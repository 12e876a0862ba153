package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// countingBookings counts how often the seat map is read in full.
type countingBookings struct {
	ticketing.BookingService
	loads atomic.Int32
}

func (c *countingBookings) SeatMap(ctx context.Context, eventID string) (*ticketing.SeatMap, error) {
	c.loads.Add(1)
	return c.BookingService.SeatMap(ctx, eventID)
}

// seatMapSale is a sale whose seat map reads are counted, rendered again
// every refresh at most.
func seatMapSale(t *testing.T, refresh time.Duration) (*sale, *countingBookings) {
	counting := &countingBookings{}
	s := newSale(t, 10, 20, 2, func(cfg *httpapi.Config, deps *httpapi.Deps) {
		cfg.SeatMapRefresh = refresh
		counting.BookingService = deps.Bookings
		deps.Bookings = counting
	})
	return s, counting
}

func (s *sale) seatMap(headers map[string]string) response {
	s.t.Helper()
	return s.do(request{method: "GET", path: "/v1/events/" + s.event + "/seats", host: s.slug + ".tickets.test", headers: headers})
}

// statusesOf reads a seat map's statuses by label, checking each entry's
// other fields.
func (s *sale) statusesOf(raw []byte, price float64) map[string]string {
	s.t.Helper()
	var body struct{ Data []map[string]any }
	if err := json.Unmarshal(raw, &body); err != nil {
		s.t.Fatalf("seat map %q: %v", raw, err)
	}
	out := map[string]string{}
	for _, m := range body.Data {
		if len(m) != 7 || m["price"] != price || m["section"] != "Floor" || m["ticketTypeId"] != s.seated ||
			!ticketing.ValidID(m["id"].(string)) || m["row"] == "" {
			s.t.Fatalf("seat map entry: %v", m)
		}
		out[m["label"].(string)] = m["status"].(string)
	}
	if len(out) != len(s.seats) {
		s.t.Fatalf("seat map has %d seats, want %d", len(out), len(s.seats))
	}
	return out
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSeatMapRevalidatesAndCompresses: the seat map carries an ETag that
// If-None-Match turns into 304 until a seat, a price or the layout changes;
// it comes gzipped to clients that accept it; and it is read from the
// inventory once per change, however many ask.
func TestSeatMapRevalidatesAndCompresses(t *testing.T) {
	t.Parallel()
	s, counting := seatMapSale(t, 0)
	buyer := s.buyers[0]

	first := s.seatMap(nil)
	etag := first.header.Get("ETag")
	if first.status != 200 || etag == "" || first.header.Get("Content-Encoding") != "" ||
		first.header.Get("Vary") != "Accept-Encoding" || first.header.Get("Cache-Control") != "public, no-cache" {
		t.Fatalf("seat map: %d %v", first.status, first.header)
	}
	if st := s.statusesOf(first.raw, 15000); st["R0-1"] != "available" || st["R1-10"] != "available" {
		t.Fatalf("statuses: %v", st)
	}
	if res := s.seatMap(map[string]string{"If-None-Match": etag}); res.status != 304 || len(res.raw) != 0 || res.header.Get("ETag") != etag {
		t.Fatalf("revalidation: %d %v %q", res.status, res.header, res.raw)
	}
	if res := s.seatMap(map[string]string{"If-None-Match": `"other", ` + etag}); res.status != 304 {
		t.Fatalf("revalidation with a list: %d", res.status)
	}
	zipped := s.seatMap(map[string]string{"Accept-Encoding": "br, gzip"})
	if zipped.status != 200 || zipped.header.Get("Content-Encoding") != "gzip" || zipped.header.Get("ETag") != etag ||
		len(zipped.raw) >= len(first.raw)/2 || !bytes.Equal(gunzip(t, zipped.raw), first.raw) {
		t.Fatalf("gzipped seat map: %d %v, %d bytes for %d", zipped.status, zipped.header, len(zipped.raw), len(first.raw))
	}
	if res := s.seatMap(map[string]string{"Accept-Encoding": "gzip;q=0, identity"}); res.header.Get("Content-Encoding") != "" || !bytes.Equal(res.raw, first.raw) {
		t.Fatalf("gzip refused with q=0 but sent: %v", res.header)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := s.seatMap(nil); res.status != 200 || res.header.Get("ETag") != etag {
				t.Errorf("unchanged seat map: %d %s", res.status, res.header.Get("ETag"))
			}
		}()
	}
	wg.Wait()
	if n := counting.loads.Load(); n != 1 {
		t.Fatalf("an unchanged seat map was read %d times, want once", n)
	}

	// A hold changes the map: the old ETag no longer matches.
	res := s.book(buyer, map[string]any{"eventId": s.event, "seats": []string{s.seats[0]}})
	if res.status != 201 {
		t.Fatalf("book: %d %s", res.status, res.raw)
	}
	booked := res.body["id"].(string)
	held := s.seatMap(map[string]string{"If-None-Match": etag})
	if held.status != 200 || held.header.Get("ETag") == etag {
		t.Fatalf("after a hold: %d %s", held.status, held.header.Get("ETag"))
	}
	if st := s.statusesOf(held.raw, 15000); st["R0-1"] != "held" || st["R0-2"] != "available" {
		t.Fatalf("statuses after a hold: %v", st)
	}
	// A general-admission booking changes no seat: the map stays valid.
	if res := s.book(buyer, map[string]any{"eventId": s.event, "ticketTypeId": s.ga, "quantity": 1}); res.status != 201 {
		t.Fatalf("book GA: %d %s", res.status, res.raw)
	}
	if res := s.seatMap(map[string]string{"If-None-Match": held.header.Get("ETag")}); res.status != 304 {
		t.Fatalf("after a general-admission booking: %d", res.status)
	}
	if res := s.as(buyer.access, s.slug, "POST", "/v1/bookings/"+booked+"/cancel", nil); res.status != 200 {
		t.Fatalf("cancel: %d %s", res.status, res.raw)
	}
	released := s.seatMap(map[string]string{"If-None-Match": held.header.Get("ETag")})
	if released.status != 200 || s.statusesOf(released.raw, 15000)["R0-1"] != "available" {
		t.Fatalf("after the release: %d %s", released.status, released.raw)
	}

	// A new price is a new map, on this instance at once (the catalog write
	// forgets the sale), and in the ETag wherever the sale is cached.
	s.mustCall(200, "PATCH", "/v1/ticket-types/"+s.seated, map[string]any{"version": 1, "price": 17500})
	repriced := s.seatMap(map[string]string{"If-None-Match": released.header.Get("ETag")})
	if repriced.status != 200 {
		t.Fatalf("after a new price: %d", repriced.status)
	}
	s.statusesOf(repriced.raw, 17500)
	s.checkInvariants()
}

// TestSeatMapRefreshBoundsRenderings: with a refresh period, a map that
// changes all the time is rendered once per period, and served as rendered
// (with its own ETag) in between.
func TestSeatMapRefreshBoundsRenderings(t *testing.T) {
	t.Parallel()
	s, counting := seatMapSale(t, time.Hour)
	first := s.seatMap(nil)
	etag := first.header.Get("ETag")
	for i, seat := range s.seats[:5] {
		if res := s.book(s.buyers[i%2], map[string]any{"eventId": s.event, "seats": []string{seat}}); res.status != 201 {
			t.Fatalf("book: %d %s", res.status, res.raw)
		}
		if res := s.seatMap(map[string]string{"If-None-Match": etag}); res.status != 304 {
			t.Fatalf("within the refresh period, change %d: %d", i, res.status)
		}
	}
	if n := counting.loads.Load(); n != 1 {
		t.Fatalf("seat map read %d times within one refresh period, want once", n)
	}
}

// TestSeatMapOfHiddenEvent: the cache answers nobody a map the event's
// visibility does not allow.
func TestSeatMapOfHiddenEvent(t *testing.T) {
	t.Parallel()
	s, _ := seatMapSale(t, time.Hour)
	if res := s.seatMap(nil); res.status != 200 {
		t.Fatalf("seat map: %d", res.status)
	}
	s.mustCall(200, "POST", "/v1/events/"+s.event+"/cancel", nil)
	if res := s.seatMap(nil); res.status != 200 {
		t.Fatalf("seat map of a cancelled event: %d", res.status)
	}
	s.mustCall(200, "DELETE", "/v1/events/"+s.event, nil)
	assertError(t, s.seatMap(nil), 404, "NOT_FOUND")
}
