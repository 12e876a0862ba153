package httpapi_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
)

// paidSale is a sale whose first buyer paid for two general-admission
// tickets and the first seat; it returns the booking's id.
func paidSale(t *testing.T) (*sale, string) {
	s := newSale(t, 10, 20, 3)
	buyer := s.buyers[0]
	res := s.book(buyer, map[string]any{"eventId": s.event, "seats": []string{s.seats[0]},
		"items": []any{map[string]any{"ticketTypeId": s.ga, "quantity": 2}}})
	if res.status != 201 {
		t.Fatalf("book: %d %s", res.status, res.raw)
	}
	booking := id(res.body)
	redirect := s.simPay(s.checkout(buyer, booking), paystacksim.OutcomeSuccess)
	if res := s.callback(redirect, nil); res.status != 200 || res.body["bookingStatus"] != "confirmed" {
		t.Fatalf("callback: %d %s", res.status, res.raw)
	}
	s.simIdle()
	return s, booking
}

// checkinKeys reads the organizer's active public keys by version.
func (s *sale) checkinKeys() map[int]ed25519.PublicKey {
	s.t.Helper()
	res := s.as("", s.slug, "GET", "/v1/checkin-keys", nil)
	if res.status != 200 {
		s.t.Fatalf("checkin keys: %d %s", res.status, res.raw)
	}
	keys := map[int]ed25519.PublicKey{}
	for _, k := range res.body["data"].([]any) {
		m := k.(map[string]any)
		if m["active"] != true {
			continue
		}
		pub, err := base64.RawURLEncoding.DecodeString(m["publicKey"].(string))
		if err != nil || len(pub) != ed25519.PublicKeySize || m["algorithm"] != "Ed25519" {
			s.t.Fatalf("key %v", m)
		}
		keys[int(m["version"].(float64))] = pub
	}
	return keys
}

func ticketsOf(res response) []map[string]any {
	var out []map[string]any
	for _, t := range res.body["data"].([]any) {
		out = append(out, t.(map[string]any))
	}
	return out
}

func TestTickets(t *testing.T) {
	t.Parallel()
	s, booking := paidSale(t)
	buyer, other := s.buyers[0], s.buyers[1]

	list := s.as(buyer.access, s.slug, "GET", "/v1/tickets", nil)
	tickets := ticketsOf(list)
	if list.status != 200 || len(tickets) != 3 {
		t.Fatalf("the buyer's tickets: %d %s", list.status, list.raw)
	}
	keys := s.checkinKeys()
	seated := 0
	for _, tk := range tickets {
		if tk["bookingId"] != booking || tk["eventId"] != s.event || tk["eventTitle"] != "Concert" || tk["venueName"] != "Arena" ||
			tk["holderId"] != buyer.userID || tk["attendeeName"] != "Buyer" || tk["status"] != "valid" || tk["version"] != float64(1) {
			t.Fatalf("ticket %v", tk)
		}
		if tk["seatLabel"] == "R0-1" {
			seated++
			if tk["ticketTypeName"] != "Floor" || tk["section"] != "Floor" || tk["seatId"] != s.seats[0] {
				t.Fatalf("seated ticket %v", tk)
			}
		} else if tk["ticketTypeName"] != "General" || tk["seatId"] != nil {
			t.Fatalf("general admission ticket %v", tk)
		}
		p, err := checkin.Verify(tk["qrPayload"].(string), keys)
		if err != nil || p.TicketID != tk["id"] || p.EventID != s.event || p.TenantID != s.tenantID() {
			t.Fatalf("the QR payload of %v: %+v %v", tk["id"], p, err)
		}
	}
	if seated != 1 {
		t.Fatalf("%d seated tickets, want 1", seated)
	}
	ticket := tickets[0]["id"].(string)
	path := "/v1/tickets/" + ticket

	// Others see none of them; staff see them all.
	if res := s.as(other.access, s.slug, "GET", "/v1/tickets", nil); len(ticketsOf(res)) != 0 {
		t.Fatalf("another buyer sees: %s", res.raw)
	}
	assertError(t, s.as(other.access, s.slug, "GET", path, nil), 404, "NOT_FOUND")
	assertError(t, s.as(other.access, s.slug, "GET", path+"/qr.png", nil), 404, "NOT_FOUND")
	if res := s.call("GET", "/v1/tickets?bookingId="+booking, nil); len(ticketsOf(res)) != 3 {
		t.Fatalf("staff by booking: %s", res.raw)
	}
	assertError(t, s.call("GET", "/v1/tickets?eventId=nope", nil), 400, "VALIDATION_FAILED")

	// The QR code says the payload.
	qr := s.as(buyer.access, s.slug, "GET", path+"/qr.png", nil)
	if qr.status != 200 || qr.header.Get("Content-Type") != "image/png" || qr.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("qr.png: %d %v", qr.status, qr.header)
	}
	if got := decodeQR(t, qr.raw); got != tickets[0]["qrPayload"] {
		t.Fatalf("the QR code says %q, want the ticket's payload", got)
	}

	// The attendee's name.
	res := s.as(buyer.access, s.slug, "PATCH", path, map[string]any{"attendeeName": "  Ada Lovelace ", "version": 1})
	if res.status != 200 || res.body["attendeeName"] != "Ada Lovelace" || res.body["version"] != float64(2) {
		t.Fatalf("rename: %d %s", res.status, res.raw)
	}
	assertError(t, s.as(buyer.access, s.slug, "PATCH", path, map[string]any{"attendeeName": "Late", "version": 1}), 409, "STALE_VERSION")
	assertError(t, s.as(buyer.access, s.slug, "PATCH", path, map[string]any{"attendeeName": " "}), 400, "VALIDATION_FAILED")
	assertError(t, s.as(other.access, s.slug, "PATCH", path, map[string]any{"attendeeName": "Mallory"}), 404, "NOT_FOUND")

	// A transfer: a new holder and secret, the old payload names a secret
	// the ticket no longer has.
	if res := s.as(other.access, s.slug, "PATCH", "/v1/me", map[string]any{"name": "Grace"}); res.status != 200 {
		t.Fatalf("rename account: %d %s", res.status, res.raw)
	}
	assertError(t, s.as(buyer.access, s.slug, "POST", path+"/transfer", map[string]any{"email": "nobody@example.com"}), 422, "VALIDATION_FAILED")
	assertError(t, s.as(buyer.access, s.slug, "POST", path+"/transfer", map[string]any{"email": "buyer0@example.com"}), 422, "VALIDATION_FAILED")
	assertError(t, s.as(buyer.access, s.slug, "POST", path+"/transfer", map[string]any{"email": "not an email"}), 400, "VALIDATION_FAILED")
	old, _ := checkin.Verify(tickets[0]["qrPayload"].(string), keys)
	moved := s.as(buyer.access, s.slug, "POST", path+"/transfer", map[string]any{"email": "BUYER1@example.com"})
	if moved.status != 200 || moved.body["holderId"] != other.userID || moved.body["attendeeName"] != "Grace" {
		t.Fatalf("transfer: %d %s", moved.status, moved.raw)
	}
	now, err := checkin.Verify(moved.body["qrPayload"].(string), keys)
	if err != nil || now.TicketID != ticket || now.Secret == old.Secret {
		t.Fatalf("after the transfer the payload is %+v (%v); before it %+v", now, err, old)
	}
	assertError(t, s.as(buyer.access, s.slug, "GET", path, nil), 404, "NOT_FOUND")
	if res := s.as(other.access, s.slug, "GET", path, nil); res.status != 200 || res.body["qrPayload"] != moved.body["qrPayload"] {
		t.Fatalf("the new holder reads: %d %s", res.status, res.raw)
	}

	// Rotating the key: payloads of the old key no longer verify, tickets
	// carry payloads of the new one.
	assertError(t, s.as(buyer.access, s.slug, "POST", "/v1/checkin-keys/rotate", nil), 403, "FORBIDDEN")
	if res := s.call("POST", "/v1/checkin-keys/rotate", nil); res.status != 200 || len(res.body["data"].([]any)) != 2 {
		t.Fatalf("rotate: %d %s", res.status, res.raw)
	}
	rotated := s.checkinKeys()
	if _, ok := rotated[1]; ok || len(rotated) != 1 {
		t.Fatalf("active keys after rotating: %v", rotated)
	}
	if _, err := checkin.Verify(moved.body["qrPayload"].(string), rotated); err == nil {
		t.Fatal("a payload of the retired key still verifies")
	}
	res = s.as(other.access, s.slug, "GET", path, nil)
	if p, err := checkin.Verify(res.body["qrPayload"].(string), rotated); err != nil || p.KeyVersion != 2 || p.Secret != now.Secret {
		t.Fatalf("after rotating: %+v %v", p, err)
	}

	// Paying again issues nothing more.
	var n int
	if err := s.db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM tickets WHERE booking_id = $1", booking).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d tickets (%v), want 3", n, err)
	}
}

// TestTicketsOfAnotherOrganizer: a ticket id of one organizer is not found
// at another, and its keys are its own.
func TestTicketsOfAnotherOrganizer(t *testing.T) {
	t.Parallel()
	s, _ := paidSale(t)
	ticket := ticketsOf(s.as(s.buyers[0].access, s.slug, "GET", "/v1/tickets", nil))[0]["id"].(string)
	s.createTenant("globex")
	admin := s.signinAdmin("globex")
	assertError(t, s.as(admin.access, "globex", "GET", "/v1/tickets/"+ticket, nil), 404, "NOT_FOUND")
	if res := s.as(admin.access, "globex", "GET", "/v1/tickets", nil); len(ticketsOf(res)) != 0 {
		t.Fatalf("another organizer's staff see: %s", res.raw)
	}
	mine, theirs := s.as("", s.slug, "GET", "/v1/checkin-keys", nil), s.as("", "globex", "GET", "/v1/checkin-keys", nil)
	if mine.body["data"].([]any)[0].(map[string]any)["publicKey"] == theirs.body["data"].([]any)[0].(map[string]any)["publicKey"] {
		t.Fatal("two organizers share a check-in key")
	}
}

func decodeQR(t *testing.T, b []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decoding the QR code: %v", err)
	}
	return res.GetText()
}

// TestBookingsReadable: a booking names its event, ticket types and seats;
// staff also see who booked.
func TestBookingsReadable(t *testing.T) {
	t.Parallel()
	s := newSale(t, 10, 20, 1)
	buyer := s.buyers[0]
	res := s.book(buyer, map[string]any{"eventId": s.event, "seats": []string{s.seats[1], s.seats[0]},
		"items": []any{map[string]any{"ticketTypeId": s.ga, "quantity": 1}}})
	if res.status != 201 {
		t.Fatalf("book: %d %s", res.status, res.raw)
	}
	check := func(what string, b map[string]any, staff bool) {
		t.Helper()
		labels := map[string]string{}
		for _, it := range b["items"].([]any) {
			m := it.(map[string]any)
			labels[m["ticketTypeName"].(string)] = fmt.Sprint(m["seatLabels"])
		}
		if b["eventTitle"] != "Concert" || b["eventStartsAt"] == nil || len(labels) != 2 || labels["General"] != "<nil>" ||
			(labels["Floor"] != "[Floor R0-1 Floor R0-2]" && labels["Floor"] != "[Floor R0-2 Floor R0-1]") {
			t.Fatalf("%s: %v", what, b)
		}
		buyerOf, _ := b["buyer"].(map[string]any)
		if staff != (buyerOf != nil) || (staff && (buyerOf["email"] != "buyer0@example.com" || buyerOf["name"] != "Buyer")) {
			t.Fatalf("%s: buyer %v", what, b["buyer"])
		}
	}
	check("created", res.body, false)
	check("read by the buyer", s.as(buyer.access, s.slug, "GET", "/v1/bookings/"+id(res.body), nil).body, false)
	check("read by staff", s.call("GET", "/v1/bookings/"+id(res.body), nil).body, true)
	check("listed for staff", ticketsOf(s.call("GET", "/v1/bookings?eventId="+s.event, nil))[0], true)
}

func TestBookingTicketsPDF(t *testing.T) {
	t.Parallel()
	s, booking := paidSale(t)
	path := "/v1/bookings/" + booking + "/tickets.pdf"
	res := s.as(s.buyers[0].access, s.slug, "GET", path, nil)
	if res.status != 200 || res.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(res.raw, []byte("%PDF-")) ||
		res.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("pdf: %d %v %.20q", res.status, res.header, res.raw)
	}
	if pages := bytes.Count(res.raw, []byte("/Type /Page\n")); pages != 3 {
		t.Fatalf("%d pages, want one per ticket (3)", pages)
	}
	if images := bytes.Count(res.raw, []byte("/Subtype /Image")); images != 3 {
		t.Fatalf("%d images, want a QR code per ticket (3)", images)
	}
	assertError(t, s.as(s.buyers[1].access, s.slug, "GET", path, nil), 404, "NOT_FOUND")
	if res := s.call("GET", path, nil); res.status != 200 {
		t.Fatalf("staff: %d", res.status)
	}
	pending := s.bookGA(s.buyers[1], 1)
	assertError(t, s.as(s.buyers[1].access, s.slug, "GET", "/v1/bookings/"+pending+"/tickets.pdf", nil), 404, "NOT_FOUND")
}

// TestBuyerCancelsUnderRefundPolicy: a buyer cancels a paid booking only as
// the event's refund policy allows, once, and gets back what was paid less
// the policy's fee; the tickets are void.
func TestBuyerCancelsUnderRefundPolicy(t *testing.T) {
	t.Parallel()
	s, booking := paidSale(t)
	buyer := s.buyers[0]
	cancel := func(who session) response {
		return s.as(who.access, s.slug, "POST", "/v1/bookings/"+booking+"/cancel", nil)
	}
	policy := func(p map[string]any) {
		t.Helper()
		ev := s.call("GET", "/v1/events/"+s.event, nil)
		res := s.call("PATCH", "/v1/events/"+s.event, map[string]any{"version": ev.body["version"], "refundPolicy": p})
		if res.status != 200 || fmt.Sprint(res.body["refundPolicy"]) != fmt.Sprint(p) {
			t.Fatalf("policy: %d %s", res.status, res.raw)
		}
	}
	assertError(t, cancel(buyer), 422, "CANCELLATION_NOT_ALLOWED")
	// The event is 30 days away: a cutoff a year before it has passed.
	policy(map[string]any{"buyerCancellation": true, "untilHours": 8760, "feeBps": 1000})
	assertError(t, cancel(buyer), 422, "CANCELLATION_NOT_ALLOWED")
	version := s.call("GET", "/v1/events/"+s.event, nil).body["version"]
	assertError(t, s.call("PATCH", "/v1/events/"+s.event, map[string]any{"version": version, "refundPolicy": map[string]any{"feeBps": 20000}}), 400, "VALIDATION_FAILED")
	policy(map[string]any{"buyerCancellation": true, "untilHours": 24, "feeBps": 1000})
	assertError(t, cancel(s.buyers[1]), 404, "NOT_FOUND")

	res := cancel(buyer)
	if res.status != 200 || res.body["status"] != "refunded" {
		t.Fatalf("cancel: %d %s", res.status, res.raw)
	}
	refunds := ticketsOf(s.as(buyer.access, s.slug, "GET", "/v1/bookings/"+booking+"/refunds", nil))
	if len(refunds) != 1 || refunds[0]["amount"] != float64(22500) || refunds[0]["kind"] != "buyer" {
		t.Fatalf("refunds: %v", refunds)
	}
	for _, tk := range ticketsOf(s.as(buyer.access, s.slug, "GET", "/v1/tickets?bookingId="+booking, nil)) {
		if tk["status"] != "void" || tk["qrPayload"] != nil {
			t.Fatalf("ticket after the cancellation: %v", tk)
		}
	}
	assertError(t, cancel(buyer), 409, "INVALID_STATE")
	if st := s.stockOf(s.ga); st["sold"] != float64(0) || st["available"] != float64(10) {
		t.Fatalf("stock after the cancellation: %v", st)
	}
}
