package httpapi_test

import (
	"fmt"
	"html"
	"regexp"
	"slices"
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
	pending := s.page("acme", admin, "/admin/bookings/"+other)
	assertPage(t, pending, 200, "No payment attempts.", "A pending booking cannot be put under review")
	if strings.Contains(string(pending.raw), "data-review-form") {
		t.Error("a pending booking offers a review")
	}

	// A charge that did not match put this one under review without
	// tickets; the admin changes its note.
	mismatched, _ := s.mismatchedBooking(s.buyers[1], 1)
	assertPage(t, s.page("acme", admin, "/admin/bookings/"+mismatched), 200, "Update the review note", "Save the note")
	s.mustCall(200, "POST", "/v1/bookings/"+mismatched+"/review", map[string]any{"note": "chargeback"})
	assertPage(t, s.page("acme", admin, "/admin/review"), 200, `href="/admin/bookings/`+mismatched+`"`, "chargeback")
	flagged := s.page("acme", admin, "/admin/bookings/"+mismatched)
	assertPage(t, flagged, 200, `data-resolve-form data-booking="`+mismatched+`"`, "cannot be restored", "ends cancelled", "Close the booking")
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

// TestConsoleBookingSearchCoversEveryBuyer: the console's buyer search is
// the API's: it finds the bookings of every account whose email starts
// with it, however many there are, and its pages keep the search.
func TestConsoleBookingSearchCoversEveryBuyer(t *testing.T) {
	t.Parallel()
	s := newSale(t, 200, 10, 0)
	var fans []session
	for i := range 22 {
		fans = append(fans, s.signup(s.slug, fmt.Sprintf("fan%02d@example.com", i)))
	}
	outsider := s.bookGA(s.signup(s.slug, "outsider@example.com"), 1)
	first := s.bookGA(fans[0], 1)
	var last []string
	for range 50 {
		last = append(last, s.bookGA(fans[len(fans)-1], 1))
	}

	rows := regexp.MustCompile(`<tr data-booking="([^"]+)">`)
	listed := func(page response) []string {
		var out []string
		for _, m := range rows.FindAllSubmatch(page.raw, -1) {
			out = append(out, string(m[1]))
		}
		return out
	}
	list := s.page("acme", s.token, "/admin/bookings?buyer=FAN")
	assertPage(t, list, 200, "fan21@example.com", `value="FAN"`)
	older := regexp.MustCompile(`href="(/admin/bookings\?[^"]*cursor=[^"]*)">Older bookings`).FindSubmatch(list.raw)
	if older == nil {
		t.Fatalf("no link to the older bookings of the search:\n%s", list.raw)
	}
	next := html.UnescapeString(string(older[1]))
	if !strings.Contains(next, "buyer=FAN") {
		t.Fatalf("the older bookings' link %q drops the search", next)
	}
	page2 := s.page("acme", s.token, next)
	assertPage(t, page2, 200, `href="/admin/bookings/`+first+`"`)
	if strings.Contains(string(page2.raw), "Older bookings") {
		t.Error("the search has a third page")
	}
	got, want := append(listed(list), listed(page2)...), append([]string{first}, last...)
	slices.Sort(got)
	slices.Sort(want)
	if len(listed(list)) != 50 || !slices.Equal(got, want) {
		t.Errorf("the pages of the search list %d and %d bookings, not the fans' %d (the outsider's is %s)",
			len(listed(list)), len(listed(page2)), len(want), outsider)
	}
	assertPage(t, s.page("acme", s.token, "/admin/bookings?buyer="+strings.Repeat("x", 201)), 400, "buyer must be at most 200 characters")
}
