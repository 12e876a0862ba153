package httpapi_test

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// session is what signup, signin and refresh return.
type session struct {
	userID, access, refresh string
	res                     response
}

func sessionOf(t *testing.T, res response) session {
	t.Helper()
	if res.status != 200 && res.status != 201 {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	return session{
		userID:  res.body["user"].(map[string]any)["id"].(string),
		access:  res.body["accessToken"].(string),
		refresh: res.body["refreshToken"].(string),
		res:     res,
	}
}

func (a *testAPI) signup(slug, email string) session {
	a.t.Helper()
	return sessionOf(a.t, a.do(request{method: "POST", path: "/v1/auth/signup", host: slug + ".tickets.test",
		body: map[string]string{"email": email, "password": "buyer-password-1", "name": "Buyer"}}))
}

func (a *testAPI) signin(slug, email, password string) session {
	a.t.Helper()
	return sessionOf(a.t, a.do(request{method: "POST", path: "/v1/auth/signin", host: slug + ".tickets.test",
		body: map[string]string{"email": email, "password": password}}))
}

func (a *testAPI) signinAdmin(slug string) session {
	a.t.Helper()
	return a.signin(slug, "admin@"+slug+".test", adminPassword)
}

// as sends a request to a tenant's host with an access token.
func (a *testAPI) as(token, slug, method, path string, body any) response {
	a.t.Helper()
	r := request{method: method, path: path, host: slug + ".tickets.test", body: body}
	if token != "" {
		r.headers = map[string]string{"Authorization": "Bearer " + token}
	}
	return a.do(r)
}

// TestRoleMatrix walks every registered route and checks what an anonymous
// caller, a buyer, an admin, an admin of another organizer and the platform
// key may do. A route missing from the table fails the test, so no route is
// added without a decision.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	tenant := api.createTenant("acme")
	api.createTenant("globex")
	buyer := api.signup("acme", "buyer@example.com")
	admin := api.signinAdmin("acme")
	otherAdmin := api.signinAdmin("globex")

	// Outcomes per caller: A allowed (anything but 401/403), 1 = 401, 3 = 403.
	// Columns: anonymous, USER, ADMIN, other organizer's ADMIN, platform key.
	expected := map[string]string{
		"GET /healthz":                                    "AAAAA",
		"GET /readyz":                                     "AAAAA",
		"GET /metrics":                                    "AAAAA",
		"GET /api/openapi.json":                           "AAAAA",
		"GET /api/docs":                                   "AAAAA",
		"GET /api/docs/assets/:version/:name":             "AAAAA",
		"POST /v1/platform/tenants":                       "1111A",
		"GET /v1/platform/tenants":                        "1111A",
		"GET /v1/platform/tenants/:id":                    "1111A",
		"PATCH /v1/platform/tenants/:id":                  "1111A",
		"POST /v1/platform/tenants/:id/domains":           "1111A",
		"DELETE /v1/platform/tenants/:id/domains/:domain": "1111A",
		"GET /v1/health":                                  "AAAAA",
		"GET /v1/settings":                                "AAAAA",
		"PATCH /v1/settings":                              "13A11",
		"POST /v1/auth/signup":                            "AAAAA",
		"POST /v1/auth/signin":                            "AAAAA",
		"POST /v1/auth/refresh":                           "AAAAA",
		"POST /v1/auth/signout":                           "AAAAA",
		"GET /v1/me":                                      "1AA11",
		"PATCH /v1/me":                                    "1AA11",
		"GET /v1/users":                                   "13A11",
		"GET /v1/users/:id":                               "13A11",
		"PATCH /v1/users/:id":                             "13A11",

		"POST /v1/venues":       "13A11",
		"GET /v1/venues":        "13A11",
		"GET /v1/venues/:id":    "13A11",
		"PATCH /v1/venues/:id":  "13A11",
		"DELETE /v1/venues/:id": "13A11",

		"GET /v1/events":                   "AAAAA",
		"GET /v1/events/:id":               "AAAAA",
		"GET /v1/events/:id/ticket-types":  "AAAAA",
		"POST /v1/events":                  "13A11",
		"PATCH /v1/events/:id":             "13A11",
		"DELETE /v1/events/:id":            "13A11",
		"POST /v1/events/:id/publish":      "13A11",
		"POST /v1/events/:id/cancel":       "13A11",
		"POST /v1/events/:id/restore":      "13A11",
		"POST /v1/events/:id/ticket-types": "13A11",
		"PATCH /v1/ticket-types/:id":       "13A11",
		"DELETE /v1/ticket-types/:id":      "13A11",

		"GET /v1/events/:id/availability": "AAAAA",
		"GET /v1/events/:id/seats":        "AAAAA",
		// Waiting rooms: organizers configure, buyers queue (and staff
		// read the configuration through the same GET).
		"PUT /v1/events/:id/waiting-room":        "13A11",
		"DELETE /v1/events/:id/waiting-room":     "13A11",
		"GET /v1/events/:id/waiting-room":        "1AA11",
		"POST /v1/events/:id/waiting-room":       "1AA11",
		"GET /v1/events/:id/waiting-room/events": "1AA11",
		"POST /v1/bookings":                      "1AA11",
		"GET /v1/bookings":                       "1AA11",
		"GET /v1/bookings/:id":                   "1AA11",
		"POST /v1/bookings/:id/cancel":           "1AA11",

		// Paystack's redirect and webhook carry no credentials.
		"GET /v1/payments/callback":           "AAAAA",
		"POST /v1/webhooks/paystack":          "AAAAA",
		"POST /v1/bookings/:id/payments":      "1AA11",
		"POST /v1/bookings/:id/review":        "13A11",
		"POST /v1/bookings/:id/resolve":       "13A11",
		"GET /v1/payments":                    "13A11",
		"POST /v1/payments/:reference/verify": "13A11",

		"GET /v1/tickets":                  "1AA11",
		"GET /v1/tickets/:id":              "1AA11",
		"PATCH /v1/tickets/:id":            "1AA11",
		"POST /v1/tickets/:id/transfer":    "1AA11",
		"GET /v1/tickets/:id/qr.png":       "1AA11",
		"GET /v1/bookings/:id/tickets.pdf": "1AA11",
		"GET /v1/checkin-keys":             "AAAAA",
		"POST /v1/checkin-keys/rotate":     "13A11",

		"POST /v1/checkins":               "13A11",
		"POST /v1/checkins/batch":         "13A11",
		"GET /v1/events/:id/checkin-list": "13A11",
		"GET /v1/events/:id/checkins":     "13A11",
		// Refunds: staff refund and retry; a buyer reads their own
		// booking's refunds.
		"POST /v1/bookings/:id/refunds": "13A11",
		"GET /v1/bookings/:id/refunds":  "1AA11",
		"GET /v1/refunds":               "13A11",
		"POST /v1/refunds/:id/retry":    "13A11",
		"GET /v1/events/:id/refunds":    "13A11",

		// The organizer's shop: pages anyone may open; a buyer's own pages
		// send a visitor who is not signed in to sign in (counted as 1).
		"GET /":                           "AAAAA",
		"GET /events/:id":                 "AAAAA",
		"GET /signin":                     "AAAAA",
		"GET /signup":                     "AAAAA",
		"GET /checkout/:id":               "1AA11",
		"GET /bookings/:id":               "1AA11",
		"GET /tickets":                    "1AA11",
		"GET /embed/events/:id":           "AAAAA",
		"GET /widget.js":                  "AAAAA",
		"GET /theme.css":                  "AAAAA",
		"GET /admin":                      "13A11",
		"GET /admin/events/new":           "13A11",
		"GET /admin/events/:id":           "13A11",
		"GET /admin/checkin":              "13A11",
		"GET /admin/bookings":             "13A11",
		"GET /admin/bookings/:id":         "13A11",
		"GET /admin/review":               "13A11",
		"GET /admin/users":                "13A11",
		"GET /admin/venues":               "13A11",
		"GET /admin/venues/new":           "13A11",
		"GET /admin/venues/:id":           "13A11",
		"GET /assets/shop/:version/:name": "AAAAA",
	}
	// Door staff (CHECKIN) may call what anyone may, their own account and
	// the check-in routes; everything else is 403 for them.
	door := map[string]bool{"GET /v1/me": true, "PATCH /v1/me": true, "POST /v1/checkins": true, "POST /v1/checkins/batch": true,
		"GET /admin/checkin": true, "GET /checkout/:id": true, "GET /bookings/:id": true, "GET /tickets": true,
		"GET /v1/events/:id/checkin-list": true, "GET /v1/events/:id/checkins": true}
	doorman := api.signup("acme", "door@example.com")
	if res := api.as(admin.access, "acme", "PATCH", "/v1/users/"+doorman.userID, map[string]any{"role": "CHECKIN", "version": 1}); res.status != 200 {
		t.Fatalf("make door staff: %d %s", res.status, res.raw)
	}
	doorman = api.signin("acme", "door@example.com", "buyer-password-1")
	callers := []struct {
		name     string
		token    string
		platform bool
	}{{"anonymous", "", false}, {"USER", buyer.access, false}, {"ADMIN", admin.access, false}, {"otherADMIN", otherAdmin.access, false}, {"platform", "", true},
		{"CHECKIN", doorman.access, false}}

	// Signout ends the caller's session, so it goes last.
	routes := api.srv.App().GetRoutes(true)
	last := func(r fiber.Route) int {
		if strings.HasSuffix(r.Path, "/signout") {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(routes, func(a, b fiber.Route) int { return cmp.Compare(last(a), last(b)) })
	seen := map[string]bool{}
	for _, r := range routes {
		if r.Method == "HEAD" {
			continue
		}
		key := r.Method + " " + r.Path
		seen[key] = true
		want, ok := expected[key]
		if !ok {
			t.Errorf("route %s has no row in the role matrix: decide who may call it (policies/policy.csv) and add it here", key)
			continue
		}
		switch {
		case want[0] == 'A' || door[key]:
			want += "A"
		case want[1] == '1': // the platform's routes take no user's token
			want += "1"
		default:
			want += "3"
		}
		path := strings.NewReplacer(":id", map[bool]string{true: tenant["id"].(string), false: buyer.userID}[strings.HasPrefix(r.Path, "/v1/platform")],
			":domain", "nothing.example", ":reference", ticketing.PaymentReference(buyer.userID, 1)).Replace(r.Path)
		for i, c := range callers {
			req := request{method: r.Method, path: path, host: "acme.tickets.test", platformKey: c.platform}
			if c.token != "" {
				req.headers = map[string]string{"Authorization": "Bearer " + c.token}
			}
			if r.Method == "POST" || r.Method == "PATCH" {
				req.body = map[string]any{}
			}
			if r.Path == "/v1/webhooks/paystack" {
				// Signed, so that the answer is about the caller, not the
				// signature (which no caller's credentials replace).
				req.body = "{}"
				req.headers = map[string]string{paystack.SignatureHeader: paystack.Sign(testPaystackKey, []byte("{}"))}
			}
			res := api.do(req)
			// Denials come from authorize with these codes; a handler's own
			// 401 (wrong password) means the route was allowed.
			got := "A"
			if code := res.body["code"]; code == "UNAUTHORIZED" || code == "INVALID_TOKEN" || code == "FORBIDDEN" {
				got = map[int]string{401: "1", 403: "3"}[res.status]
			}
			if isShopPage(r.Path) {
				// A page sends a visitor who must sign in to the sign-in
				// page, and answers a refusal with a 403 page.
				switch {
				case res.status == 303 && strings.HasPrefix(res.header.Get("Location"), "/signin?"):
					got = "1"
				case res.status == 403:
					got = "3"
				}
			}
			if got != want[i:i+1] {
				t.Errorf("%s as %s: status %d, want %s", key, c.name, res.status, map[string]string{"A": "allowed", "1": "401", "3": "403"}[want[i:i+1]])
			}
		}
	}
	for key := range expected {
		if !seen[key] {
			t.Errorf("the role matrix names %s, which is not a route", key)
		}
	}
}

func TestAccessTokensRejected(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	api.createTenant("globex")
	buyer := api.signup("acme", "buyer@example.com")
	otherTenant := api.signup("globex", "buyer@example.com")

	mint := func(cfg auth.TokenConfig) string {
		if cfg.Secret == "" {
			cfg.Secret = testJWTSecret
		}
		if cfg.Issuer == "" {
			cfg.Issuer = "ticketd-test"
		}
		if cfg.Audience == "" {
			cfg.Audience = "ticketd-api"
		}
		if cfg.TTL == 0 {
			cfg.TTL = 15 * time.Minute
		}
		tokens, err := auth.NewTokens(cfg)
		if err != nil {
			t.Fatal(err)
		}
		server, _ := auth.NewTokens(auth.TokenConfig{Secret: testJWTSecret, Issuer: "ticketd-test", Audience: "ticketd-api", TTL: time.Minute})
		claims, err := server.Parse(buyer.access)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := tokens.Issue(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(buyer.access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	claims["role"] = "ADMIN"
	forged, _ := json.Marshal(claims)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"`+auth.KeyID(testJWTSecret)+`"}`)) + "." + parts[1] + "."

	cases := map[string]string{
		"expired401":       mint(auth.TokenConfig{Now: func() time.Time { return time.Now().Add(-time.Hour) }}),
		"wrongAudience401": mint(auth.TokenConfig{Audience: "another-api"}),
		"wrongIssuer401":   mint(auth.TokenConfig{Issuer: "someone-else"}),
		"wrongKey401":      mint(auth.TokenConfig{Secret: "another-secret-0123456789abcdef0123456789"}),
		"tampered401":      parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2],
		"algNone401":       none,
		"garbage401":       "not.a.token",
		"otherTenant401":   otherTenant.access,
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			assertError(t, api.as(token, "acme", "GET", "/v1/me", nil), 401, "INVALID_TOKEN")
			res := api.do(request{method: "GET", path: "/v1/me", host: "acme.tickets.test", headers: map[string]string{"Cookie": "access_token=" + token}})
			assertError(t, res, 401, "INVALID_TOKEN")
		})
	}
	t.Run("validToken200", func(t *testing.T) {
		res := api.as(buyer.access, "acme", "GET", "/v1/me", nil)
		if res.status != 200 || res.body["email"] != "buyer@example.com" || res.body["role"] != "USER" {
			t.Fatalf("%d %s", res.status, res.raw)
		}
	})
	t.Run("staleCookieOnPublicRouteIgnored200", func(t *testing.T) {
		res := api.do(request{method: "GET", path: "/v1/health", host: "acme.tickets.test", headers: map[string]string{"Cookie": "access_token=" + cases["expired401"]}})
		if res.status != 200 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	const oldSecret = "old-jwt-secret-0123456789abcdef0123456789"
	api := newTestAPI(t, func(_ *httpapi.Config, d *httpapi.Deps) {
		tokens, err := auth.NewTokens(auth.TokenConfig{Secret: testJWTSecret, PreviousSecrets: []string{oldSecret},
			Issuer: "ticketd-test", Audience: "ticketd-api", TTL: 15 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		d.Tokens = tokens
	})
	api.createTenant("acme")
	buyer := api.signup("acme", "buyer@example.com")
	current, _ := auth.NewTokens(auth.TokenConfig{Secret: testJWTSecret, Issuer: "ticketd-test", Audience: "ticketd-api", TTL: time.Minute})
	claims, err := current.Parse(buyer.access)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := auth.NewTokens(auth.TokenConfig{Secret: oldSecret, Issuer: "ticketd-test", Audience: "ticketd-api", TTL: time.Minute})
	oldToken, _, _ := old.Issue(claims)
	if res := api.as(oldToken, "acme", "GET", "/v1/me", nil); res.status != 200 {
		t.Fatalf("token of the previous key: %d %s", res.status, res.raw)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	first := api.signup("acme", "buyer@example.com")
	refresh := func(token string) response {
		return api.as("", "acme", "POST", "/v1/auth/refresh", map[string]string{"refreshToken": token})
	}

	second := sessionOf(t, refresh(first.refresh))
	if second.refresh == first.refresh || second.access == "" {
		t.Fatal("refresh did not rotate the token")
	}
	third := sessionOf(t, refresh(second.refresh))
	if res := api.as(third.access, "acme", "GET", "/v1/me", nil); res.status != 200 {
		t.Fatalf("rotated session's access token: %d", res.status)
	}

	// first.refresh was rotated: presenting it again is a replay, which ends
	// the whole session, including the newest refresh and access tokens.
	assertError(t, refresh(first.refresh), 401, "INVALID_TOKEN")
	assertError(t, refresh(third.refresh), 401, "INVALID_TOKEN")
	assertError(t, api.as(third.access, "acme", "GET", "/v1/me", nil), 401, "INVALID_TOKEN")

	// Other sessions of the same user are untouched.
	other := api.signin("acme", "buyer@example.com", "buyer-password-1")
	sessionOf(t, refresh(other.refresh))

	assertError(t, refresh("made-up-token"), 401, "INVALID_TOKEN")
	assertError(t, api.as("", "acme", "POST", "/v1/auth/refresh", map[string]string{}), 400, "VALIDATION_FAILED")
	t.Run("otherTenant401", func(t *testing.T) {
		api.createTenant("globex")
		fresh := api.signin("acme", "buyer@example.com", "buyer-password-1")
		assertError(t, api.as("", "globex", "POST", "/v1/auth/refresh", map[string]string{"refreshToken": fresh.refresh}), 401, "INVALID_TOKEN")
		sessionOf(t, refresh(fresh.refresh))
	})
}

func TestConcurrentRefreshIssuesOneToken(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	const n = 6
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = api.as("", "acme", "POST", "/v1/auth/refresh", map[string]string{"refreshToken": s.refresh}).status
		}()
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		if st == 200 {
			ok++
		} else if st != 401 {
			t.Fatalf("statuses %v", statuses)
		}
	}
	if ok > 1 {
		t.Fatalf("one refresh token was rotated %d times: %v", ok, statuses)
	}
}

func TestSignout(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	res := api.as(s.access, "acme", "POST", "/v1/auth/signout", map[string]string{"refreshToken": s.refresh})
	if res.status != 204 {
		t.Fatalf("signout: %d %s", res.status, res.raw)
	}
	cleared := strings.Join(res.header.Values("Set-Cookie"), "\n")
	if !strings.Contains(cleared, "access_token=;") || !strings.Contains(cleared, "refresh_token=;") {
		t.Fatalf("cookies not cleared: %s", cleared)
	}
	assertError(t, api.as("", "acme", "POST", "/v1/auth/refresh", map[string]string{"refreshToken": s.refresh}), 401, "INVALID_TOKEN")
	assertError(t, api.as(s.access, "acme", "GET", "/v1/me", nil), 401, "INVALID_TOKEN")

	t.Run("accessTokenOnly204", func(t *testing.T) {
		s := api.signin("acme", "buyer@example.com", "buyer-password-1")
		if res := api.as(s.access, "acme", "POST", "/v1/auth/signout", nil); res.status != 204 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
		assertError(t, api.as(s.access, "acme", "GET", "/v1/me", nil), 401, "INVALID_TOKEN")
		assertError(t, api.as("", "acme", "POST", "/v1/auth/refresh", map[string]string{"refreshToken": s.refresh}), 401, "INVALID_TOKEN")
	})
	t.Run("nothingToEndStill204", func(t *testing.T) {
		if res := api.as("", "acme", "POST", "/v1/auth/signout", nil); res.status != 204 {
			t.Fatalf("%d %s", res.status, res.raw)
		}
	})
}

func TestCookieSession(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.CookieSecure = true })
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	var access, refresh string
	for _, line := range s.res.header.Values("Set-Cookie") {
		lower := strings.ToLower(line)
		if !strings.Contains(lower, "httponly") || !strings.Contains(lower, "samesite=lax") || !strings.Contains(lower, "secure") {
			t.Errorf("cookie without HttpOnly, SameSite=Lax and Secure: %s", line)
		}
		name, rest, _ := strings.Cut(line, "=")
		value, _, _ := strings.Cut(rest, ";")
		switch name {
		case "access_token":
			access = value
		case "refresh_token":
			refresh = value
			if !strings.Contains(line, "path=/v1/auth") {
				t.Errorf("refresh cookie not scoped to /v1/auth: %s", line)
			}
		}
	}
	if access != s.access || refresh != s.refresh {
		t.Fatal("cookies do not carry the session's tokens")
	}
	res := api.do(request{method: "GET", path: "/v1/me", host: "acme.tickets.test", headers: map[string]string{"Cookie": "access_token=" + access}})
	if res.status != 200 {
		t.Fatalf("me by cookie: %d %s", res.status, res.raw)
	}
	res = api.do(request{method: "POST", path: "/v1/auth/refresh", host: "acme.tickets.test", headers: map[string]string{"Cookie": "refresh_token=" + refresh,
		"Content-Type": "application/json", "Origin": "https://acme.tickets.test"}})
	if res.status != 200 {
		t.Fatalf("refresh by cookie: %d %s", res.status, res.raw)
	}
}

// TestCookieChangesNeedTheOrganizersOwnOrigin: a sibling organizer's page
// is same-site, so SameSite=Lax lets the browser send the cookie; the
// request is refused unless it is JSON from the tenant's own origin.
func TestCookieChangesNeedTheOrganizersOwnOrigin(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	booking := `{"eventId":"not-an-id","items":[]}`
	call := func(path string, headers map[string]string) response {
		return api.do(request{method: "POST", path: path, host: "acme.tickets.test", body: booking, headers: headers})
	}
	cookie := "access_token=" + s.access
	for name, h := range map[string]map[string]string{
		"siblingOrigin403":     {"Cookie": cookie, "Origin": "http://bravo.tickets.test"},
		"otherSiteOrigin403":   {"Cookie": cookie, "Origin": "https://evil.example"},
		"nullOrigin403":        {"Cookie": cookie, "Origin": "null"},
		"noOriginSameSite403":  {"Cookie": cookie, "Sec-Fetch-Site": "same-site"},
		"noOriginAtAll403":     {"Cookie": cookie},
		"formContentType403":   {"Cookie": cookie, "Origin": "http://acme.tickets.test", "Content-Type": "application/x-www-form-urlencoded"},
		"plainTextNoOrigin403": {"Cookie": cookie, "Content-Type": "text/plain", "Sec-Fetch-Site": "same-origin"},
	} {
		t.Run(name, func(t *testing.T) {
			assertError(t, call("/v1/bookings", h), 403, "FORBIDDEN")
		})
	}
	// From its own pages, or with a bearer token, the request goes on (to
	// the validation of its body).
	for name, h := range map[string]map[string]string{
		"ownOrigin400":           {"Cookie": cookie, "Origin": "https://acme.tickets.test:8443"},
		"sameOriginFetchSite400": {"Cookie": cookie, "Sec-Fetch-Site": "same-origin"},
		"bearerAnyOrigin400":     {"Authorization": "Bearer " + s.access, "Origin": "https://evil.example"},
	} {
		t.Run(name, func(t *testing.T) {
			assertError(t, call("/v1/bookings", h), 400, "VALIDATION_FAILED")
		})
	}
	// The refresh cookie too: a forged refresh would rotate the session.
	res := api.do(request{method: "POST", path: "/v1/auth/refresh", host: "acme.tickets.test", headers: map[string]string{
		"Cookie": "refresh_token=" + s.refresh, "Content-Type": "application/json", "Origin": "http://bravo.tickets.test"}})
	assertError(t, res, 403, "FORBIDDEN")
}

func TestSignupValidation(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	api.createTenant("globex")
	api.signup("acme", "buyer@example.com")
	users, sessions := api.count("users"), api.count("refresh_tokens")

	signup := func(slug string, body any) response {
		return api.do(request{method: "POST", path: "/v1/auth/signup", host: slug + ".tickets.test", body: body})
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		words  []string
	}{
		{"badEmail400", map[string]string{"email": "not-an-email", "password": "long-enough-1", "name": "B"}, 400, "VALIDATION_FAILED", []string{"email"}},
		{"emailWithName400", map[string]string{"email": "Bob <bob@example.com>", "password": "long-enough-1", "name": "B"}, 400, "VALIDATION_FAILED", []string{"email"}},
		{"shortPassword400", map[string]string{"email": "new@example.com", "password": "short", "name": "B"}, 400, "VALIDATION_FAILED", []string{"password"}},
		{"missingName400", map[string]string{"email": "new@example.com", "password": "long-enough-1"}, 400, "VALIDATION_FAILED", []string{"name"}},
		{"everything400", map[string]string{}, 400, "VALIDATION_FAILED", []string{"email", "password", "name"}},
		{"roleNotAccepted400", map[string]string{"email": "new@example.com", "password": "long-enough-1", "name": "B", "role": "ADMIN"}, 400, "VALIDATION_FAILED", []string{"role"}},
		{"duplicate409", map[string]string{"email": "buyer@example.com", "password": "long-enough-1", "name": "B"}, 409, "EMAIL_TAKEN", []string{"buyer@example.com"}},
		{"duplicateOtherCase409", map[string]string{"email": " Buyer@Example.COM ", "password": "long-enough-1", "name": "B"}, 409, "EMAIL_TAKEN", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := signup("acme", c.body)
			assertError(t, res, c.status, c.code)
			for _, w := range c.words {
				if !strings.Contains(messages(res), w) {
					t.Errorf("messages %q do not mention %s", messages(res), w)
				}
			}
		})
	}
	if api.count("users") != users || api.count("refresh_tokens") != sessions {
		t.Fatal("failed signups wrote rows")
	}
	t.Run("sameEmailOtherTenant201", func(t *testing.T) {
		s := api.signup("globex", "buyer@example.com")
		if s.res.body["user"].(map[string]any)["role"] != "USER" {
			t.Fatalf("signup role: %s", s.res.raw)
		}
	})
}

func TestSignin(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	api.createTenant("globex")
	api.signup("acme", "buyer@example.com")
	signin := func(slug, email, pw string) response {
		return api.as("", slug, "POST", "/v1/auth/signin", map[string]string{"email": email, "password": pw})
	}
	wrongPassword := signin("acme", "buyer@example.com", "wrong-password")
	unknown := signin("acme", "nobody@example.com", "buyer-password-1")
	otherTenant := signin("globex", "buyer@example.com", "buyer-password-1")
	for _, res := range []response{wrongPassword, unknown, otherTenant} {
		assertError(t, res, 401, "INVALID_CREDENTIALS")
		if messages(res) != messages(wrongPassword) {
			t.Fatal("signin failures differ and reveal which accounts exist")
		}
	}
	sessionOf(t, signin("acme", " BUYER@example.com", "buyer-password-1"))
}

func TestAuthRateLimit(t *testing.T) {
	t.Parallel()
	const window = time.Second
	api := newTestAPI(t, func(c *httpapi.Config, d *httpapi.Deps) {
		c.AuthRateLimitEmail = 3
		c.AuthRateLimitIP = 5
		rdb := redistest.New(t)
		d.AuthLimiter = rdb.NewRateLimiter("auth", window)
		guard := rdb.NewSigninGuard(3, 3, window)
		guard.Memory = window // a round run again starts afresh
		d.SigninGuard = guard
	})
	api.createTenant("acme")
	api.createTenant("globex")
	signin := func(slug, email string) response {
		return api.as("", slug, "POST", "/v1/auth/signin", map[string]string{"email": email, "password": "wrong-password"})
	}
	// The limits count within one window. On a machine so busy that the
	// attempts spread over more than the window, counters expire among them
	// and the answers prove nothing; such a round is run again once every
	// counter it started has expired.
	var got []response
	for round := 1; ; round++ {
		start := time.Now()
		got = nil
		for range 4 {
			got = append(got, signin("acme", "victim@example.com"))
		}
		got = append(got,
			// The same email on another organizer has its own counter.
			signin("globex", "victim@example.com"),
			// The IP limit (5) catches a spray over many emails.
			signin("acme", "a@example.com"),
			signin("acme", "b@example.com"),
			api.as("", "acme", "POST", "/v1/auth/signup", map[string]string{"email": "c@example.com", "password": "long-enough-1", "name": "C"}))
		if time.Since(start) < window {
			break
		}
		if round == 10 {
			t.Fatalf("not one of %d rounds of attempts fit in the %v window", round, window)
		}
		time.Sleep(window + 100*time.Millisecond)
	}
	for _, res := range got[:3] {
		assertError(t, res, 401, "INVALID_CREDENTIALS")
	}
	assertError(t, got[3], 429, "TOO_MANY_REQUESTS")
	if ra := got[3].header.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After %q, want 1", ra)
	}
	assertError(t, got[4], 401, "INVALID_CREDENTIALS")
	assertError(t, got[5], 401, "INVALID_CREDENTIALS")
	assertError(t, got[6], 429, "TOO_MANY_REQUESTS")
	assertError(t, got[7], 429, "TOO_MANY_REQUESTS")

	// Refused attempts do not extend the window: the limit recovers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		time.Sleep(250 * time.Millisecond)
		res := signin("acme", "victim@example.com")
		if res.status == 401 {
			break
		}
		assertError(t, res, 429, "TOO_MANY_REQUESTS")
		if time.Now().After(deadline) {
			t.Fatal("the limit did not recover after its window")
		}
	}
}

func TestMe(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	other := api.signin("acme", "buyer@example.com", "buyer-password-1")

	res := api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"name": "New Name", "version": 1})
	if res.status != 200 || res.body["name"] != "New Name" || res.body["version"] != float64(2) {
		t.Fatalf("rename: %d %s", res.status, res.raw)
	}
	assertError(t, api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"name": "Stale", "version": 1}), 409, "STALE_VERSION")
	assertError(t, api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"password": "new-password-1"}), 400, "VALIDATION_FAILED")
	assertError(t, api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"password": "new-password-1", "currentPassword": "wrong"}), 401, "INVALID_CREDENTIALS")
	assertError(t, api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"role": "ADMIN"}), 400, "VALIDATION_FAILED")

	res = api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"password": "new-password-1", "currentPassword": "buyer-password-1"})
	if res.status != 200 {
		t.Fatalf("change password: %d %s", res.status, res.raw)
	}
	// The password change ended the other session, not this one.
	assertError(t, api.as(other.access, "acme", "GET", "/v1/me", nil), 401, "INVALID_TOKEN")
	assertError(t, api.as("", "acme", "POST", "/v1/auth/refresh", map[string]string{"refreshToken": other.refresh}), 401, "INVALID_TOKEN")
	if res := api.as(s.access, "acme", "GET", "/v1/me", nil); res.status != 200 || res.body["role"] != "USER" {
		t.Fatalf("own session after password change: %d %s", res.status, res.raw)
	}
	var audits int
	if err := api.db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM audit_log WHERE action = 'user.profile.update' AND actor_id::text = $1 AND details->>'password' IS NULL",
		s.userID).Scan(&audits); err != nil || audits != 2 {
		t.Fatalf("audit rows of profile changes: %d (%v), want 2 without the password", audits, err)
	}
	assertError(t, api.as("", "acme", "POST", "/v1/auth/signin", map[string]string{"email": "buyer@example.com", "password": "buyer-password-1"}), 401, "INVALID_CREDENTIALS")
	api.signin("acme", "buyer@example.com", "new-password-1")
}

func TestAdminManagesUsers(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	api.createTenant("globex")
	admin := api.signinAdmin("acme")
	var buyers []session
	for i := range 5 {
		buyers = append(buyers, api.signup("acme", fmt.Sprintf("buyer%d@example.com", i)))
	}
	outsider := api.signup("globex", "outsider@example.com")

	// Pagination returns every user exactly once.
	seen := walkPages(t, "/v1/users?limit=2", "id", func(path string) response {
		return api.as(admin.access, "acme", "GET", path, nil)
	})
	if len(seen) != 6 || seen[outsider.userID] {
		t.Fatalf("listed %d users (want 6 of this organizer only)", len(seen))
	}
	res := api.as(admin.access, "acme", "GET", "/v1/users?role=admin", nil)
	if res.status != 200 || len(res.body["data"].([]any)) != 1 {
		t.Fatalf("role filter: %d %s", res.status, res.raw)
	}
	res = api.as(admin.access, "acme", "GET", "/v1/users?email=BUYER3", nil)
	if res.status != 200 || len(res.body["data"].([]any)) != 1 {
		t.Fatalf("email filter: %d %s", res.status, res.raw)
	}
	if res := api.as(admin.access, "acme", "GET", "/v1/users?email=%25", nil); res.status != 200 || len(res.body["data"].([]any)) != 0 {
		t.Fatalf("a %% in the email filter is a wildcard: %s", res.raw)
	}
	assertError(t, api.as(admin.access, "acme", "GET", "/v1/users?role=OWNER", nil), 400, "VALIDATION_FAILED")
	assertError(t, api.as(admin.access, "acme", "GET", "/v1/users/"+outsider.userID, nil), 404, "NOT_FOUND")
	assertError(t, api.as(admin.access, "acme", "PATCH", "/v1/users/"+outsider.userID, map[string]any{"name": "Hijack", "version": 1}), 404, "NOT_FOUND")

	// Promote a buyer; their old session ends, so the new role applies at
	// their next sign-in.
	promoted := buyers[0]
	res = api.as(admin.access, "acme", "PATCH", "/v1/users/"+promoted.userID, map[string]any{"role": "ADMIN", "version": 1})
	if res.status != 200 || res.body["role"] != "ADMIN" || res.body["version"] != float64(2) {
		t.Fatalf("promote: %d %s", res.status, res.raw)
	}
	assertError(t, api.as(promoted.access, "acme", "GET", "/v1/me", nil), 401, "INVALID_TOKEN")
	promotedAdmin := api.signin("acme", "buyer0@example.com", "buyer-password-1")
	if res := api.as(promotedAdmin.access, "acme", "GET", "/v1/users", nil); res.status != 200 {
		t.Fatalf("promoted admin lists users: %d", res.status)
	}
	assertError(t, api.as(admin.access, "acme", "PATCH", "/v1/users/"+promoted.userID, map[string]any{"name": "Stale", "version": 1}), 409, "STALE_VERSION")
	for name, body := range map[string]any{
		"noVersion400": map[string]any{"name": "X"},
		"badRole400":   map[string]any{"role": "OWNER", "version": 2},
		"nothing400":   map[string]any{"version": 2},
		"email400":     map[string]any{"email": "x@example.com", "version": 2},
	} {
		t.Run(name, func(t *testing.T) {
			assertError(t, api.as(admin.access, "acme", "PATCH", "/v1/users/"+promoted.userID, body), 400, "VALIDATION_FAILED")
		})
	}

	var audits int
	if err := api.db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM audit_log WHERE action = 'user.update' AND entity_id = $1 AND actor_id::text = $2 AND request_id <> ''",
		promoted.userID, admin.userID).Scan(&audits); err != nil || audits != 1 {
		t.Fatalf("audit rows for the promotion: %d (%v), want 1 naming the admin and the request", audits, err)
	}
}

func TestLastAdminCannotBeDemoted(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	admin := api.signinAdmin("acme")
	assertError(t, api.as(admin.access, "acme", "PATCH", "/v1/users/"+admin.userID, map[string]any{"role": "USER", "version": 1}), 409, "LAST_ADMIN")

	// Two admins demoting each other at once: exactly one demotion wins.
	second := api.signup("acme", "second@example.com")
	if res := api.as(admin.access, "acme", "PATCH", "/v1/users/"+second.userID, map[string]any{"role": "ADMIN", "version": 1}); res.status != 200 {
		t.Fatalf("promote: %d %s", res.status, res.raw)
	}
	secondAdmin := api.signin("acme", "second@example.com", "buyer-password-1")
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	demotions := []struct {
		token, target string
		version       int
	}{{admin.access, secondAdmin.userID, 2}, {secondAdmin.access, admin.userID, 1}}
	for i, d := range demotions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = api.as(d.token, "acme", "PATCH", "/v1/users/"+d.target, map[string]any{"role": "USER", "version": d.version}).status
		}()
	}
	wg.Wait()
	var admins int
	if err := api.db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM users WHERE role = 'ADMIN'").Scan(&admins); err != nil || admins != 1 {
		t.Fatalf("statuses %v left %d admins (%v), want exactly 1", statuses, admins, err)
	}
}

// TestRateLimitSeesThroughForwardedFor: behind a trusted proxy the client is
// the rightmost address the proxy saw, so entries a client prepends to
// X-Forwarded-For do not buy fresh counters.
func TestRateLimitSeesThroughForwardedFor(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.TrustedProxies = []string{"0.0.0.0/32", "10.0.0.0/8"}
		c.AuthRateLimitIP = 3
	})
	api.createTenant("acme")
	for i := range 5 {
		res := api.do(request{method: "POST", path: "/v1/auth/signin", host: "acme.tickets.test",
			body:    map[string]string{"email": fmt.Sprintf("user%d@example.com", i), "password": "wrong-password"},
			headers: map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d, 203.0.113.7, 10.1.2.3", i)}})
		want := 401
		if i >= 3 {
			want = 429
		}
		if res.status != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, res.status, want)
		}
	}
	// Another client behind the same proxy has its own counter.
	res := api.do(request{method: "POST", path: "/v1/auth/signin", host: "acme.tickets.test",
		body:    map[string]string{"email": "other@example.com", "password": "wrong-password"},
		headers: map[string]string{"X-Forwarded-For": "203.0.113.8"}})
	assertError(t, res, 401, "INVALID_CREDENTIALS")
}

func TestPasswordChangeIsRateLimited(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.AuthRateLimitEmail = 3 })
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	for range 3 {
		assertError(t, api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"password": "new-password-1", "currentPassword": "guess"}), 401, "INVALID_CREDENTIALS")
	}
	assertError(t, api.as(s.access, "acme", "PATCH", "/v1/me", map[string]any{"password": "new-password-1", "currentPassword": "buyer-password-1"}), 429, "TOO_MANY_REQUESTS")
}

// TestRevocationOutlivesTokenLeeway: a revoked session stays revoked for as
// long as the parser would still accept its access tokens.
func TestRevocationOutlivesTokenLeeway(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	parser, _ := auth.NewTokens(auth.TokenConfig{Secret: testJWTSecret, Issuer: "ticketd-test", Audience: "ticketd-api", TTL: time.Minute})
	claims, err := parser.Parse(s.access)
	if err != nil {
		t.Fatal(err)
	}
	signout := time.Now()
	if res := api.as(s.access, "acme", "POST", "/v1/auth/signout", nil); res.status != 204 {
		t.Fatalf("signout: %d", res.status)
	}
	ttl, err := api.rdb.PTTL(t.Context(), api.rdb.Key("session:revoked:"+claims.SessionID)).Result()
	// The revocation was written after signout with its full TTL, which
	// has run down by no more than the time since (and Redis's millisecond).
	if err != nil || ttl < 15*time.Minute+auth.Leeway-time.Since(signout)-time.Millisecond {
		t.Fatalf("revocation kept for %v (%v), want the token lifetime plus the parser's leeway", ttl, err)
	}
}

// TestSignedOutSessionStaysOutWhenRedisLosesItsData: revocations live in
// Postgres; Redis only caches them.
func TestSignedOutSessionStaysOutWhenRedisLosesItsData(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	s := api.signup("acme", "buyer@example.com")
	if res := api.as(s.access, "acme", "POST", "/v1/auth/signout", map[string]string{"refreshToken": s.refresh}); res.status != 204 {
		t.Fatalf("signout: %d %s", res.status, res.raw)
	}
	keys, err := api.rdb.Keys(t.Context(), api.rdb.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := api.rdb.Del(t.Context(), keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	assertError(t, api.as(s.access, "acme", "GET", "/v1/me", nil), 401, "INVALID_TOKEN")
}

// TestSigninGuessingDoesNotLockTheOwnerOut: an attacker guessing an email's
// password, from one address or from many, is held back, while the owner on
// an address that never failed still signs in; failures are audited.
func TestSigninGuessingDoesNotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, func(c *httpapi.Config, d *httpapi.Deps) {
		c.TrustedProxies = []string{"0.0.0.0/32"} // the address app.Test reports for its client
		c.AuthRateLimitIP = 1000
		// Past 5 failures of the email, an address that failed waits 2^(n-5)
		// s: after the 13 below, 256 s, far more than any pause between two
		// requests of this test on a busy machine.
		d.SigninGuard = redistest.New(t).NewSigninGuard(3, 5, time.Minute)
	})
	api.createTenant("acme")
	api.signup("acme", "owner@example.com")
	signin := func(from, password string) response {
		return api.do(request{method: "POST", path: "/v1/auth/signin", host: "acme.tickets.test",
			body: map[string]string{"email": "owner@example.com", "password": password}, headers: map[string]string{"X-Forwarded-For": from}})
	}
	for range 3 {
		assertError(t, signin("10.0.0.1", "guess"), 401, "INVALID_CREDENTIALS")
	}
	assertError(t, signin("10.0.0.1", "guess"), 429, "TOO_MANY_REQUESTS")
	if res := signin("10.0.0.9", "buyer-password-1"); res.status != 200 {
		t.Fatalf("the owner on another address after a guessing run: %d %s", res.status, res.raw)
	}
	// Guessing from many addresses: past 5 failures of the email, an
	// address that failed for it backs off; a fresh one is still heard.
	for i := range 10 {
		assertError(t, signin(fmt.Sprintf("10.0.1.%d", i+1), "guess"), 401, "INVALID_CREDENTIALS")
	}
	res := signin("10.0.1.1", "guess")
	assertError(t, res, 429, "TOO_MANY_REQUESTS")
	if ra := res.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	if res := signin("10.0.2.1", "buyer-password-1"); res.status != 200 {
		t.Fatalf("the owner on a new address during the attack: %d %s", res.status, res.raw)
	}
	if n := api.count("audit_log WHERE action = 'user.signin_failed'"); n != 13 {
		t.Fatalf("%d failed sign-ins audited, want 13", n)
	}
}
