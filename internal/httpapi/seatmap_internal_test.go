package httpapi

import (
	"context"
	"fmt"
	"testing"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

func TestSeatMapCacheStaysWithinItsBytes(t *testing.T) {
	m := newSeatMapCache(0, 64<<10, 2)
	load := func(n int) func(context.Context) (*ticketing.SeatMap, error) {
		return func(context.Context) (*ticketing.SeatMap, error) {
			sm := &ticketing.SeatMap{Version: fmt.Sprint("v", n), Layout: "l"}
			for i := range 100 {
				sm.Seats = append(sm.Seats, ticketing.SeatState{ID: fmt.Sprint("seat-", i), Label: "A-1", Status: "available"})
			}
			return sm, nil
		}
	}
	for i := range 100 {
		key := fmt.Sprint("tenant|event-", i)
		r, err := m.current(context.Background(), key, fmt.Sprint("v", i), load(i))
		if err != nil || r.key != key {
			t.Fatal(r, err)
		}
		if m.bytes > m.maxBytes || m.lru.Len() != len(m.byKey) {
			t.Fatalf("after %d events: %d bytes kept of at most %d, %d in the list, %d by key", i+1, m.bytes, m.maxBytes, m.lru.Len(), len(m.byKey))
		}
	}
	if m.get("tenant|event-99") == nil || m.get("tenant|event-0") != nil {
		t.Fatal("the least recently used rendering should go first")
	}
}

func TestEtagMatches(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{`W/"abc"`, true}, {`"abc"`, true}, {`"x", W/"abc"`, true}, {`*`, true},
		{``, false}, {`W/"abcd"`, false}, {`abc`, false},
	} {
		if got := etagMatches(c.header, `W/"abc"`); got != c.want {
			t.Errorf("etagMatches(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{"gzip", true}, {"br, GZIP", true}, {"gzip;q=0.5", true}, {"*", true}, {"deflate, gzip ; q=1.0", true},
		{"", false}, {"br", false}, {"gzip;q=0", false}, {"gzip; q=0.000", false}, {"identity", false},
	} {
		if got := acceptsGzip(c.header); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}
