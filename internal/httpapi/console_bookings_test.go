package httpapi_test

import (
	"strings"
	"testing"
)

// TestConsoleBookingPages: the console's bookings, a booking with its
// payment and refunds (under review, what each decision would do), the
// review queue and the accounts, for the organizer's ADMIN only; the buyer
// search finds that buyer's bookings alone; another organizer's booking is
// a 404 page.
func TestConsoleBookingPages(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	admin := s.token
	paid, ref := s.paidBooking(s.buyers[0], 2)
	other := s.bookGA(s.buyers[1], 1)
	if res := s.refund(paid, map[string]any{"amount": 100000, "reason": "one ticket back"}); res.status != 201 {
		t.Fatalf("refund: %d %s", res.status, res.raw)
	}

	list := s.page("acme", admin, "/admin/bookings")
	assertPage(t, list, 200, `href="/admin/bookings/`+paid+`"`, `href="/admin/bookings/`+other+`"`, "buyer0@example.com", "console-bookings.js")
	assertPage(t, s.page("acme", admin, "/admin/bookings?status=confirmed&event="+s.event), 200, `href="/admin/bookings/`+paid+`"`)
	if strings.Contains(string(s.page("acme", admin, "/admin/bookings?status=confirmed").raw), other) {
		t.Error("the status filter shows a pending booking")
	}
	found := s.page("acme", admin, "/admin/bookings?buyer=BUYER0@")
	assertPage(t, found, 200, `href="/admin/bookings/`+paid+`"`)
	if strings.Contains(string(found.raw), other) {
		t.Error("the buyer search shows another buyer's booking")
	}
	if strings.Contains(string(s.page("acme", admin, "/admin/bookings?buyer=nobody@").raw), paid) {
		t.Error("a search that matches no buyer shows bookings")
	}
	assertPage(t, s.page("acme", admin, "/admin/bookings?status=nope"), 400)

	assertPage(t, s.page("acme", admin, "/admin/bookings/"+paid), 200, ref, "NGN 10,000.00", "NGN 1,000.00", "one ticket back",
		"Left to refund: <strong>NGN 9,000.00</strong>", `data-refund-form data-booking="`+paid+`"`, `data-verify="`+ref+`"`, `role="status"`)
	assertPage(t, s.page("acme", admin, "/admin/bookings/"+other), 200, "No payment attempts.", "Put under review")

	s.mustCall(200, "POST", "/v1/bookings/"+other+"/review", map[string]any{"note": "chargeback"})
	assertPage(t, s.page("acme", admin, "/admin/review"), 200, `href="/admin/bookings/`+other+`"`, "chargeback")
	flagged := s.page("acme", admin, "/admin/bookings/"+other)
	assertPage(t, flagged, 200, `data-resolve-form data-booking="`+other+`"`, "cannot be restored", "ends cancelled", "Close the booking")
	if strings.Contains(string(flagged.raw), "Restore the booking") {
		t.Error("a booking without tickets offers a restore")
	}
	s.mustCall(200, "POST", "/v1/bookings/"+paid+"/review", map[string]any{"note": "stolen card?"})
	assertPage(t, s.page("acme", admin, "/admin/bookings/"+paid), 200, "Restore the booking", "its 2 valid tickets stay as they are",
		"ends refunded: its tickets become void", "NGN 9,000.00 not refunded yet is refunded", "Close the booking")
	s.mustCall(200, "POST", "/v1/bookings/"+paid+"/resolve", map[string]any{"decision": "restore", "note": "the card is the buyer's"})
	if restored := string(s.page("acme", admin, "/admin/bookings/"+paid).raw); strings.Contains(restored, "data-resolve-form") || !strings.Contains(restored, "stolen card?") {
		t.Error("a restored booking offers a decision, or does not say why it was flagged")
	}

	assertPage(t, s.page("acme", admin, "/admin/users"), 200, "buyer1@example.com", "admin@acme.test", `data-role-form data-user="`+s.buyers[1].userID+`"`)
	assertPage(t, s.page("acme", admin, "/admin/users?email=buyer1"), 200, "buyer1@example.com")

	for _, path := range []string{"/admin/bookings", "/admin/bookings/" + paid, "/admin/review", "/admin/users"} {
		assertPage(t, s.page("acme", s.buyers[0].access, path), 403, "Not allowed")
	}
	s.createTenant("globex")
	assertPage(t, s.page("globex", s.signinAdmin("globex").access, "/admin/bookings/"+paid), 404, "Not found")
}
