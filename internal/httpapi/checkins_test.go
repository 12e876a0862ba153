package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/storefront"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// doorStaff signs up an account and makes it CHECKIN.
func (s *sale) doorStaff(email string) session {
	s.t.Helper()
	u := s.signup(s.slug, email)
	if res := s.call("PATCH", "/v1/users/"+u.userID, map[string]any{"role": "CHECKIN", "version": 1}); res.status != 200 {
		s.t.Fatalf("make door staff: %d %s", res.status, res.raw)
	}
	return s.signin(s.slug, email, "buyer-password-1")
}

func (s *sale) scan(door session, body map[string]any) response {
	s.t.Helper()
	res := s.as(door.access, s.slug, "POST", "/v1/checkins", body)
	if res.status != 200 {
		s.t.Fatalf("scan %v: %d %s", body, res.status, res.raw)
	}
	return res
}

// assertVenueTime checks that a scanned ticket says when it was checked in
// in its venue's time zone (the sale's is Africa/Lagos, UTC+1, WAT), the
// zone named as the shop names it, whatever the server's or the device's
// zone.
func assertVenueTime(t *testing.T, tk map[string]any) {
	t.Helper()
	at, err := time.Parse(time.RFC3339, fmt.Sprint(tk["checkedInAt"]))
	if err != nil {
		t.Fatalf("checkedInAt: %v", err)
	}
	local, err := time.Parse(time.RFC3339, fmt.Sprint(tk["checkedInAtLocal"]))
	if err != nil || !local.Equal(at.Truncate(time.Second)) || !strings.HasSuffix(tk["checkedInAtLocal"].(string), "+01:00") {
		t.Fatalf("checkedInAtLocal %v for checkedInAt %v: not the same instant at the venue's offset (%v)", tk["checkedInAtLocal"], tk["checkedInAt"], err)
	}
	want := storefront.When(at, "Africa/Lagos")
	if tk["venueTimezone"] != "Africa/Lagos" || tk["checkedInAtText"] != want || !strings.HasSuffix(want, " WAT") {
		t.Fatalf("venueTimezone %v, checkedInAtText %v: want Africa/Lagos, %q", tk["venueTimezone"], tk["checkedInAtText"], want)
	}
}

func TestCheckIn(t *testing.T) {
	t.Parallel()
	s, _ := paidSale(t)
	door := s.doorStaff("door@example.com")
	tickets := ticketsOf(s.as(s.buyers[0].access, s.slug, "GET", "/v1/tickets", nil))
	keys := s.checkinKeys()
	secretOf := func(tk map[string]any) string {
		p, err := checkin.Verify(tk["qrPayload"].(string), keys)
		if err != nil {
			t.Fatal(err)
		}
		return p.Secret
	}
	first, second, third := tickets[0], tickets[1], tickets[2]

	// The first scan lets them in; the next says when and where.
	res := s.scan(door, map[string]any{"eventId": s.event, "payload": first["qrPayload"], "gate": "North"})
	tk, _ := res.body["ticket"].(map[string]any)
	if res.body["result"] != "ok" || tk["id"] != first["id"] || tk["status"] != "checked_in" || tk["checkedInGate"] != "North" || tk["qrPayload"] != nil {
		t.Fatalf("first scan: %s", res.raw)
	}
	res = s.scan(door, map[string]any{"eventId": s.event, "secret": secretOf(first), "gate": "South"})
	if tk := res.body["ticket"].(map[string]any); res.body["result"] != "already_checked_in" || tk["checkedInGate"] != "North" || tk["checkedInAt"] == nil {
		t.Fatalf("second scan: %s", res.raw)
	}
	assertVenueTime(t, res.body["ticket"].(map[string]any))

	// Not this organizer's, changed, or of another event.
	for _, body := range []map[string]any{
		{"eventId": s.event, "secret": "0123456789abcdef0123456789abcdef"},
		{"eventId": s.event, "secret": "not hex"},
		{"eventId": s.event, "payload": flip(first["qrPayload"].(string), 40)},
	} {
		if res := s.scan(door, body); res.body["result"] != "not_found" || res.body["ticket"] != nil {
			t.Fatalf("scan %v: %s", body, res.raw)
		}
	}
	other := id(s.event2())
	if res := s.scan(door, map[string]any{"eventId": other, "payload": second["qrPayload"]}); res.body["result"] != "wrong_event" || res.body["ticket"] != nil {
		t.Fatalf("another event's door: %s", res.raw)
	}
	assertError(t, s.as(door.access, s.slug, "POST", "/v1/checkins", map[string]any{"eventId": s.event}), 400, "VALIDATION_FAILED")
	assertError(t, s.as(door.access, s.slug, "POST", "/v1/checkins", map[string]any{"eventId": s.event, "secret": "a", "payload": "b"}), 400, "VALIDATION_FAILED")
	assertError(t, s.as(door.access, s.slug, "POST", "/v1/checkins", map[string]any{"eventId": "00000000-0000-4000-8000-000000000000", "secret": "a"}), 404, "NOT_FOUND")

	// 32 scanners at once: one ok.
	var wg sync.WaitGroup
	results := make(chan string, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.as(door.access, s.slug, "POST", "/v1/checkins", map[string]any{"eventId": s.event, "payload": second["qrPayload"]})
			results <- res.body["result"].(string)
		}()
	}
	wg.Wait()
	close(results)
	counts := map[string]int{}
	for r := range results {
		counts[r]++
	}
	if counts["ok"] != 1 || counts["already_checked_in"] != 31 {
		t.Fatalf("32 concurrent scans: %v", counts)
	}

	// A void ticket.
	if _, err := s.db.Admin.Exec(t.Context(), "UPDATE tickets SET status = 'void' WHERE id = $1", third["id"]); err != nil {
		t.Fatal(err)
	}
	if res := s.scan(door, map[string]any{"eventId": s.event, "secret": secretOf(third)}); res.body["result"] != "void" {
		t.Fatalf("void: %s", res.raw)
	}

	// The statistics count what happened.
	stats := s.as(door.access, s.slug, "GET", "/v1/events/"+s.event+"/checkins?latest=5", nil)
	if stats.status != 200 || stats.body["tickets"] != float64(2) || stats.body["checkedIn"] != float64(2) || len(stats.body["latest"].([]any)) != 5 {
		t.Fatalf("stats: %d %s", stats.status, stats.raw)
	}
	gates := map[string]float64{}
	for _, g := range stats.body["byGate"].([]any) {
		gates[g.(map[string]any)["gate"].(string)] = g.(map[string]any)["checkedIn"].(float64)
	}
	if gates["North"] != 1 || gates[""] != 1 {
		t.Fatalf("by gate: %v", gates)
	}
}

func TestCheckInOffline(t *testing.T) {
	t.Parallel()
	s, _ := paidSale(t)
	door := s.doorStaff("door@example.com")
	tickets := ticketsOf(s.as(s.buyers[0].access, s.slug, "GET", "/v1/tickets", nil))
	keys := s.checkinKeys()

	// The list a scanner caches: hashes of the secrets, never the secrets.
	list := s.as(door.access, s.slug, "GET", "/v1/events/"+s.event+"/checkin-list?limit=2", nil)
	entries := ticketsOf(list)
	if list.status != 200 || len(entries) != 2 || list.body["nextCursor"] == nil {
		t.Fatalf("checkin list: %d %s", list.status, list.raw)
	}
	rest := ticketsOf(s.as(door.access, s.slug, "GET", "/v1/events/"+s.event+"/checkin-list?limit=2&cursor="+list.body["nextCursor"].(string), nil))
	hashes := map[string]string{}
	for _, e := range append(entries, rest...) {
		hashes[e["ticketId"].(string)] = e["secretHash"].(string)
	}
	for _, tk := range tickets {
		p, _ := checkin.Verify(tk["qrPayload"].(string), keys)
		if hashes[tk["id"].(string)] != checkin.SecretHash(p.Secret) {
			t.Fatalf("the list's hash of %s is %q", tk["id"], hashes[tk["id"].(string)])
		}
	}
	before := time.Now().UTC()

	// Two offline devices scanned the same ticket: the earlier scan wins,
	// whichever is uploaded first.
	t0 := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	batch := func(scans ...map[string]any) []map[string]any {
		res := s.as(door.access, s.slug, "POST", "/v1/checkins/batch", map[string]any{"eventId": s.event, "scans": scans})
		if res.status != 200 {
			t.Fatalf("batch: %d %s", res.status, res.raw)
		}
		return ticketsOf(res)
	}
	ticket := tickets[0]
	out := batch(
		map[string]any{"payload": ticket["qrPayload"], "gate": "B", "scannedAt": t0.Add(2 * time.Minute)},
		map[string]any{"payload": ticket["qrPayload"], "gate": "A", "scannedAt": t0.Add(time.Minute)},
		map[string]any{"payload": tickets[1]["qrPayload"], "gate": "A", "scannedAt": t0.Add(3 * time.Minute)},
	)
	if out[0]["result"] != "already_checked_in" || out[0]["conflict"] != true || out[1]["result"] != "ok" || out[1]["conflict"] != nil || out[2]["result"] != "ok" {
		t.Fatalf("first upload: %v", out)
	}
	out = batch(map[string]any{"payload": ticket["qrPayload"], "gate": "C", "scannedAt": t0})
	tk := out[0]["ticket"].(map[string]any)
	if out[0]["result"] != "ok" || out[0]["conflict"] != true || tk["checkedInGate"] != "C" || tk["checkedInAt"] != t0.Format(time.RFC3339) {
		t.Fatalf("an earlier scan uploaded later: %v", out)
	}
	if lagos := ticketing.Location("Africa/Lagos"); tk["checkedInAtLocal"] != t0.In(lagos).Format(time.RFC3339) {
		t.Fatalf("checkedInAtLocal %v, want %s", tk["checkedInAtLocal"], t0.In(lagos).Format(time.RFC3339))
	}
	assertVenueTime(t, tk)
	if res := s.scan(door, map[string]any{"eventId": s.event, "payload": ticket["qrPayload"]}); res.body["ticket"].(map[string]any)["checkedInGate"] != "C" {
		t.Fatalf("after the uploads: %s", res.raw)
	}

	// What changed since the device's copy.
	changed := ticketsOf(s.as(door.access, s.slug, "GET", "/v1/events/"+s.event+"/checkin-list?since="+before.Format(time.RFC3339Nano), nil))
	if len(changed) != 2 {
		t.Fatalf("changed since %v: %v", before, changed)
	}

	for _, bad := range []map[string]any{
		{"eventId": s.event, "scans": []any{}},
		{"eventId": s.event, "scans": []any{map[string]any{"secret": "0123456789abcdef0123456789abcdef"}}},
		{"eventId": s.event, "scans": []any{map[string]any{"secret": "0123456789abcdef0123456789abcdef", "scannedAt": time.Now().Add(time.Hour)}}},
	} {
		assertError(t, s.as(door.access, s.slug, "POST", "/v1/checkins/batch", bad), 400, "VALIDATION_FAILED")
	}
	assertError(t, s.as(door.access, s.slug, "GET", "/v1/tickets", nil), 403, "FORBIDDEN")
}

// event2 is another event of the organizer, at a venue of its own.
func (s *sale) event2() map[string]any {
	s.t.Helper()
	return s.catalog.event(id(s.venue(nil)))
}

// flip changes the character at i of a base64url text to another.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
