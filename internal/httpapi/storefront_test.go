package httpapi_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
)

// page opens a shop page of slug's host, as the holder of token ("": no
// one), the way a browser does: the access token in its cookie.
func (a *testAPI) page(slug, token, path string) response {
	a.t.Helper()
	r := request{method: "GET", path: path, host: slug + ".tickets.test", headers: map[string]string{"Accept": "text/html"}}
	if token != "" {
		r.headers["Cookie"] = "access_token=" + token
	}
	return a.do(r)
}

func assertPage(t *testing.T, res response, status int, contains ...string) {
	t.Helper()
	if res.status != status || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d (want %d), %s: %.300s", res.status, status, res.header.Get("Content-Type"), res.raw)
	}
	csp := res.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("policy %q is not the shop's strict one", csp)
	}
	for _, s := range contains {
		if !strings.Contains(string(res.raw), s) {
			t.Errorf("the page lacks %q:\n%s", s, res.raw)
		}
	}
}

// TestShopPages: every organizer's host serves its shop: its own events
// only, searchable; an event's page with its ticket types; the assets under
// their version; pages of a buyer's own bookings only for that buyer.
func TestShopPages(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	other := s.testAPI
	other.createTenant("rival")
	rival := &catalog{testAPI: other, slug: "rival", token: other.signinAdmin("rival").access}
	rivalEvent := rival.event(id(rival.venue(nil)))
	rival.mustCall(200, "PATCH", "/v1/events/"+id(rivalEvent), map[string]any{"version": 1, "title": "Rival Gala"})
	title := s.mustCall(200, "GET", "/v1/events/"+s.event, nil)["title"].(string)

	t.Run("homeListsOwnEvents", func(t *testing.T) {
		res := s.page("acme", "", "/")
		assertPage(t, res, 200, title, `href="/events/`+s.event+`"`, "Sign in")
		if strings.Contains(string(res.raw), "Rival Gala") {
			t.Error("acme's shop lists rival's event")
		}
		assertPage(t, s.page("acme", "", "/?q=no-such-event-anywhere"), 200, "No event matches")
		assertPage(t, s.page("acme", "", "/?q="+strings.Repeat("x", 201)), 400)
	})
	t.Run("eventPage", func(t *testing.T) {
		res := s.page("acme", "", "/events/"+s.event)
		assertPage(t, res, 200, title, `data-ticket-type="`+s.ga+`"`, "to buy tickets")
		assertPage(t, s.page("acme", s.buyers[0].access, "/events/"+s.event), 200, `type="submit" class="primary">Book`)
		// Another organizer's event is not on this host.
		assertPage(t, s.page("acme", "", "/events/"+id(rivalEvent)), 404, "Not found")
	})
	t.Run("widget", func(t *testing.T) {
		script := s.do(request{method: "GET", path: "/widget.js", host: "acme.tickets.test"})
		if script.status != 200 || !strings.Contains(string(script.raw), "/embed/events/") {
			t.Fatalf("widget.js: %d %.200s", script.status, script.raw)
		}
		res := s.do(request{method: "GET", path: "/embed/events/" + s.event, host: "acme.tickets.test"})
		if res.status != 200 || !strings.Contains(res.header.Get("Content-Security-Policy"), "frame-ancestors *") ||
			res.header.Get("X-Frame-Options") != "" {
			t.Fatalf("embed: %d CSP %q X-Frame-Options %q", res.status, res.header.Get("Content-Security-Policy"), res.header.Get("X-Frame-Options"))
		}
		for _, want := range []string{title, `href="/events/` + s.event + `"`, `data-availability="` + s.ga + `"`} {
			if !strings.Contains(string(res.raw), want) {
				t.Errorf("the widget lacks %q", want)
			}
		}
		if strings.Contains(string(res.raw), "Sign in") {
			t.Error("the widget shows the shop's header")
		}
		// Every other page refuses to be framed.
		if home := s.page("acme", "", "/"); home.header.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(home.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("home page may be framed: %v", home.header)
		}
	})
	t.Run("branding", func(t *testing.T) {
		res := s.call("PATCH", "/v1/settings", map[string]any{"logoUrl": "https://cdn.acme.example/logo.png", "accentColor": "#0A7D33"})
		if res.status != 200 {
			t.Fatalf("settings: %d %s", res.status, res.raw)
		}
		home := s.page("acme", "", "/")
		assertPage(t, home, 200, `<img src="https://cdn.acme.example/logo.png"`)
		if csp := home.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.acme.example;") {
			t.Errorf("the policy does not admit the logo's origin alone: %q", csp)
		}
		theme := s.do(request{method: "GET", path: "/theme.css", host: "acme.tickets.test"})
		if !strings.Contains(string(theme.raw), "--accent:#0a7d33") {
			t.Errorf("theme: %s", theme.raw)
		}
		// The other organizer's shop keeps its own.
		if rivalHome := s.page("rival", "", "/"); strings.Contains(string(rivalHome.raw), "cdn.acme.example") {
			t.Error("rival's shop shows acme's logo")
		}
	})
	t.Run("unknownHost404Page", func(t *testing.T) {
		assertPage(t, s.page("nobody", "", "/"), 404, "There is no shop at this address")
	})
	t.Run("assets", func(t *testing.T) {
		home := string(s.page("acme", "", "/").raw)
		for _, m := range regexp.MustCompile(`(?:src|href)="(/assets/shop/[^"]+)"`).FindAllStringSubmatch(home, -1) {
			res := s.do(request{method: "GET", path: m[1], host: "acme.tickets.test"})
			if res.status != 200 || !strings.Contains(res.header.Get("Cache-Control"), "immutable") || len(res.raw) == 0 {
				t.Errorf("%s: %d %q", m[1], res.status, res.header.Get("Cache-Control"))
			}
			again := s.do(request{method: "GET", path: m[1], host: "acme.tickets.test", headers: map[string]string{"If-None-Match": res.header.Get("ETag")}})
			if again.status != 304 {
				t.Errorf("%s with its ETag: %d", m[1], again.status)
			}
		}
		if res := s.do(request{method: "GET", path: "/assets/shop/old/store.js", host: "acme.tickets.test"}); res.status != 404 {
			t.Errorf("an old version: %d", res.status)
		}
		theme := s.do(request{method: "GET", path: "/theme.css", host: "acme.tickets.test"})
		if theme.status != 200 || !strings.Contains(string(theme.raw), "--accent:#") {
			t.Errorf("theme: %d %s", theme.status, theme.raw)
		}
	})
	t.Run("signInComesBackHereOnly", func(t *testing.T) {
		assertPage(t, s.page("acme", "", "/signin?next=/tickets"), 200, `data-next="/tickets"`)
		for _, next := range []string{"//evil.example/", "https://evil.example/", `/\evil.example`} {
			res := s.page("acme", "", "/signin?next="+next)
			assertPage(t, res, 200, `data-next="/"`)
		}
	})

	booking := s.bookGA(s.buyers[0], 2)
	t.Run("buyerPagesNeedSigningIn", func(t *testing.T) {
		for _, p := range []string{"/tickets", "/checkout/" + booking, "/bookings/" + booking} {
			res := s.page("acme", "", p)
			if res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/signin?next=%2F") {
				t.Errorf("%s signed out: %d Location %q", p, res.status, res.header.Get("Location"))
			}
		}
	})
	t.Run("checkoutOfOwnBookingOnly", func(t *testing.T) {
		assertPage(t, s.page("acme", s.buyers[0].access, "/checkout/"+booking), 200,
			`data-pay="`+booking+`"`, "data-countdown=", "NGN")
		assertPage(t, s.page("acme", s.buyers[1].access, "/checkout/"+booking), 404)
	})
	t.Run("paidBookingShowsTickets", func(t *testing.T) {
		redirect := s.simPay(s.checkout(s.buyers[0], booking), paystacksim.OutcomeSuccess)
		res := s.callback(redirect, map[string]string{"Accept": "text/html"})
		want := "http://acme.tickets.test/bookings/" + booking + "?payment=success"
		if res.status != 303 || res.header.Get("Location") != want {
			t.Fatalf("callback: %d Location %q, want %s", res.status, res.header.Get("Location"), want)
		}
		page := s.page("acme", s.buyers[0].access, "/bookings/"+booking+"?payment=success")
		assertPage(t, page, 200, "Booking confirmed", "/tickets.pdf")
		if n := strings.Count(string(page.raw), `/qr.png"`); n != 2 {
			t.Errorf("%d QR codes on the page, want 2", n)
		}
		assertPage(t, s.page("acme", s.buyers[0].access, "/tickets"), 200, "/qr.png")
		mine := s.page("acme", s.buyers[1].access, "/tickets")
		assertPage(t, mine, 200, "You have no tickets yet")
	})
}

// TestConsolePages: the console's pages for organizer staff, the scanner
// for door staff too, and the scripts they load are served.
func TestConsolePages(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	admin := s.token
	title := s.mustCall(200, "GET", "/v1/events/"+s.event, nil)["title"].(string)

	home := s.page("acme", admin, "/admin")
	assertPage(t, home, 200, `data-sales-event="`+s.event+`"`, title, "/assets/shop/")
	for _, m := range regexp.MustCompile(`src="(/assets/shop/[^"]+\.js)"`).FindAllStringSubmatch(string(home.raw), -1) {
		if res := s.do(request{method: "GET", path: m[1], host: "acme.tickets.test"}); res.status != 200 {
			t.Errorf("%s: %d", m[1], res.status)
		}
	}
	if !strings.Contains(string(home.raw), "admin.js") || strings.Contains(string(home.raw), "jsQR.js") {
		t.Error("the console's first page does not load its script alone")
	}
	assertPage(t, s.page("acme", admin, "/admin/events/new"), 200, "Create draft", `name="venueId"`)
	assertPage(t, s.page("acme", admin, "/admin/events/"+s.event), 200, "Add a ticket type", `data-id="`+s.event+`"`)
	assertPage(t, s.page("acme", admin, "/admin/checkin"), 200, `data-scanner`, title, `data-timezone="Africa/Lagos"`, "jsQR.js", "admin.js")
	// The shop's own pages do not load the console's scripts.
	if strings.Contains(string(s.page("acme", admin, "/").raw), "admin.js") {
		t.Error("the shop loads the console's script")
	}
	assertPage(t, s.page("acme", s.buyers[0].access, "/admin"), 403, "Not allowed")
	assertPage(t, s.page("acme", s.buyers[0].access, "/admin/checkin"), 403)
}

// TestPageTimesInVenueZone: every page shows times in the event venue's
// time zone, named (Nairobi here, EAT), as the event's page does: the
// events, an event, the checkout's hold, a booking and its tickets, the
// buyer's tickets, and the console's events, bookings, a booking's
// payments and refunds; an account, of no venue, in UTC. The JSON API
// names the zone of bookings and tickets.
func TestPageTimesInVenueZone(t *testing.T) {
	t.Parallel()
	s := newPaySale(t)
	ev := s.mustCall(200, "GET", "/v1/events/"+s.event, nil)
	s.mustCall(200, "PATCH", "/v1/venues/"+ev["venueId"].(string), map[string]any{"version": 1, "timezone": "Africa/Nairobi"})
	nairobi, err := time.LoadLocation("Africa/Nairobi")
	if err != nil {
		t.Fatal(err)
	}
	eat := func(at string) string {
		t.Helper()
		v, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		return v.In(nairobi).Format("Mon 2 Jan 2006, 15:04") + " EAT"
	}
	starts := eat(ev["startsAt"].(string))

	pending := s.bookGA(s.buyers[0], 1)
	b := s.as(s.buyers[0].access, "acme", "GET", "/v1/bookings/"+pending, nil)
	if b.body["eventTimezone"] != "Africa/Nairobi" {
		t.Errorf("the booking names the zone %v", b.body["eventTimezone"])
	}
	assertPage(t, s.page("acme", "", "/"), 200, starts)
	assertPage(t, s.page("acme", "", "/events/"+s.event), 200, starts)
	assertPage(t, s.page("acme", s.buyers[0].access, "/checkout/"+pending), 200, eat(b.body["expiresAt"].(string)))
	assertPage(t, s.page("acme", s.buyers[0].access, "/bookings/"+pending), 200, starts)

	paid, ref := s.paidBooking(s.buyers[1], 1)
	if res := s.refund(paid, map[string]any{"amount": 100, "reason": "a little back"}); res.status != 201 {
		t.Fatalf("refund: %d %s", res.status, res.raw)
	}
	tickets := s.as(s.buyers[1].access, "acme", "GET", "/v1/tickets", nil)
	if tk := tickets.body["data"].([]any); len(tk) != 1 || tk[0].(map[string]any)["venueTimezone"] != "Africa/Nairobi" {
		t.Errorf("the tickets name the zone: %s", tickets.raw)
	}
	assertPage(t, s.page("acme", s.buyers[1].access, "/bookings/"+paid), 200, "Booking confirmed", starts+"</time> · Main Hall")
	assertPage(t, s.page("acme", s.buyers[1].access, "/tickets"), 200, starts+"</time> · Main Hall")

	staff := s.mustCall(200, "GET", "/v1/bookings/"+paid, nil)
	payments := s.mustCall(200, "GET", "/v1/payments?reference="+ref, nil)["data"].([]any)
	refunds := s.mustCall(200, "GET", "/v1/bookings/"+paid+"/refunds", nil)["data"].([]any)
	assertPage(t, s.page("acme", s.token, "/admin"), 200, starts)
	assertPage(t, s.page("acme", s.token, "/admin/bookings"), 200, eat(staff["createdAt"].(string)), starts)
	assertPage(t, s.page("acme", s.token, "/admin/bookings/"+paid), 200, eat(staff["createdAt"].(string)),
		eat(payments[0].(map[string]any)["verifiedAt"].(string)), eat(refunds[0].(map[string]any)["createdAt"].(string)))
	users := s.page("acme", s.token, "/admin/users")
	for _, page := range []response{users, s.page("acme", s.token, "/admin/bookings"), s.page("acme", s.buyers[1].access, "/tickets")} {
		if regexp.MustCompile(`\d\d:\d\d UTC UTC|\d\d:\d\d [A-Z]{3} UTC`).Match(page.raw) {
			t.Errorf("a time is named twice:\n%s", page.raw)
		}
	}
	if !regexp.MustCompile(`<time datetime="[^"]+Z">[A-Z][a-z]{2} \d+ [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC</time>`).Match(users.raw) {
		t.Errorf("an account's creation is not in UTC, named:\n%s", users.raw)
	}
}
