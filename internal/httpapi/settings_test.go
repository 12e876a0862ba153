package httpapi_test

import (
	"strings"
	"testing"
)

// getSettings reads a storefront's settings anonymously through its host.
func (a *testAPI) getSettings(slug string) map[string]any {
	a.t.Helper()
	res := a.do(request{method: "GET", path: "/v1/settings", host: slug + ".tickets.test"})
	if res.status != 200 {
		a.t.Fatalf("GET /v1/settings of %s: %d %s", slug, res.status, res.raw)
	}
	return res.body
}

// assertSettings checks every field of a settings body, and that it has no
// other.
func assertSettings(t *testing.T, got map[string]any, name, logoURL, accentColor, currency string) {
	t.Helper()
	if len(got) != 4 || got["name"] != name || got["logoUrl"] != logoURL || got["accentColor"] != accentColor || got["currency"] != currency {
		t.Fatalf("settings %v; want name %q, logoUrl %q, accentColor %q, currency %q and nothing else", got, name, logoURL, accentColor, currency)
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	admin := api.signinAdmin("acme")

	// Read first, so the tenant is cached when it changes.
	assertSettings(t, api.getSettings("acme"), "Org acme", "", "#4f46e5", "NGN")

	res := api.as(admin.access, "acme", "PATCH", "/v1/settings",
		map[string]string{"name": " Acme Live ", "logoUrl": " HTTPS://cdn.acme.example/logo.png ", "accentColor": "#FF8800"})
	if res.status != 200 {
		t.Fatalf("patch200: %d %s", res.status, res.raw)
	}
	assertSettings(t, res.body, "Acme Live", "https://cdn.acme.example/logo.png", "#ff8800", "NGN")
	assertSettings(t, api.getSettings("acme"), "Acme Live", "https://cdn.acme.example/logo.png", "#ff8800", "NGN")
	if res := api.do(request{method: "GET", path: "/v1/health", host: "acme.tickets.test"}); res.body["tenant"].(map[string]any)["name"] != "Acme Live" {
		t.Fatalf("health after the rename: %s", res.raw)
	}
	byHeader := api.do(request{method: "GET", path: "/v1/settings", headers: map[string]string{"X-Tenant": "acme"}})
	assertSettings(t, byHeader.body, "Acme Live", "https://cdn.acme.example/logo.png", "#ff8800", "NGN")

	// Fields left out are kept; "" removes the logo.
	res = api.as(admin.access, "acme", "PATCH", "/v1/settings", map[string]string{"logoUrl": ""})
	if res.status != 200 {
		t.Fatalf("removeLogo200: %d %s", res.status, res.raw)
	}
	assertSettings(t, api.getSettings("acme"), "Acme Live", "", "#ff8800", "NGN")
	if n := api.count("audit_log WHERE action = 'tenant.settings.update' AND actor_role = 'ADMIN'"); n != 2 {
		t.Fatalf("%d audit rows of the admin's changes, want 2", n)
	}

	// The platform API shows the same.
	res = api.do(request{method: "GET", path: "/v1/platform/tenants?limit=1", platformKey: true})
	if tn := res.body["data"].([]any)[0].(map[string]any); tn["name"] != "Acme Live" || tn["accentColor"] != "#ff8800" || tn["logoUrl"] != "" {
		t.Fatalf("platform view: %s", res.raw)
	}
}

func TestSettingsValidation(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	admin := api.signinAdmin("acme")
	before := api.count("audit_log")

	cases := []struct {
		name      string
		body      any
		mentioned []string
	}{
		{"badColour400", map[string]string{"accentColor": "orange"}, []string{"accentColor"}},
		{"shortColour400", map[string]string{"accentColor": "#fff"}, []string{"accentColor"}},
		{"emptyColour400", map[string]string{"accentColor": ""}, []string{"accentColor"}},
		{"javascriptURL400", map[string]string{"logoUrl": "javascript:alert(document.cookie)"}, []string{"logoUrl"}},
		{"dataURL400", map[string]string{"logoUrl": "data:image/svg+xml;base64,PHN2Zz4="}, []string{"logoUrl"}},
		{"relativeURL400", map[string]string{"logoUrl": "/logo.png"}, []string{"logoUrl"}},
		{"credentialsURL400", map[string]string{"logoUrl": "https://user:secret@cdn.example/logo.png"}, []string{"logoUrl", "password"}},
		{"overlongURL400", map[string]string{"logoUrl": "https://cdn.example/" + strings.Repeat("a", 2048)}, []string{"logoUrl", "2048"}},
		{"controlCharacterURL400", map[string]string{"logoUrl": "https://cdn.example/a\nb.png"}, []string{"logoUrl"}},
		{"emptyName400", map[string]string{"name": "  "}, []string{"name"}},
		{"emptyPatch400", map[string]string{}, []string{"name", "logoUrl", "accentColor"}},
		{"everyProblemAtOnce400", map[string]string{"name": "", "logoUrl": "ftp://x.example/l.png", "accentColor": "blue"}, []string{"name", "logoUrl", "accentColor"}},
		{"currencyNotTheOrganizers400", map[string]string{"currency": "GHS"}, []string{"currency"}},
		{"statusNotTheOrganizers400", map[string]string{"status": "suspended"}, []string{"status"}},
		{"wrongType400", `{"accentColor":1}`, []string{"accentColor"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := api.as(admin.access, "acme", "PATCH", "/v1/settings", c.body)
			assertError(t, res, 400, "VALIDATION_FAILED")
			for _, word := range c.mentioned {
				if !strings.Contains(messages(res), word) {
					t.Errorf("messages %q do not mention %q", messages(res), word)
				}
			}
		})
	}
	assertSettings(t, api.getSettings("acme"), "Org acme", "", "#4f46e5", "NGN")
	if after := api.count("audit_log"); after != before {
		t.Fatalf("failed changes wrote %d audit rows", after-before)
	}
}

func TestSettingsPermissions(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	api.createTenant("globex")
	buyer := api.signup("acme", "buyer@example.com")
	globexAdmin := api.signinAdmin("globex")
	change := map[string]string{"name": "Defaced", "logoUrl": "https://evil.example/x.png", "accentColor": "#000000"}

	assertError(t, api.as("", "acme", "PATCH", "/v1/settings", change), 401, "UNAUTHORIZED")
	assertError(t, api.as(buyer.access, "acme", "PATCH", "/v1/settings", change), 403, "FORBIDDEN")
	// Another organizer's admin token is refused on this organizer's host.
	assertError(t, api.as(globexAdmin.access, "acme", "PATCH", "/v1/settings", change), 401, "INVALID_TOKEN")
	// Through the header too: the tenant is the one the request resolves to.
	res := api.do(request{method: "PATCH", path: "/v1/settings", body: change,
		headers: map[string]string{"X-Tenant": "acme", "Authorization": "Bearer " + globexAdmin.access}})
	assertError(t, res, 401, "INVALID_TOKEN")
	assertSettings(t, api.getSettings("acme"), "Org acme", "", "#4f46e5", "NGN")

	// On its own host the other admin changes its own organizer only.
	if res := api.as(globexAdmin.access, "globex", "PATCH", "/v1/settings", change); res.status != 200 {
		t.Fatalf("own settings: %d %s", res.status, res.raw)
	}
	assertSettings(t, api.getSettings("globex"), "Defaced", "https://evil.example/x.png", "#000000", "NGN")
	assertSettings(t, api.getSettings("acme"), "Org acme", "", "#4f46e5", "NGN")
	if n := api.count("audit_log WHERE action = 'tenant.settings.update'"); n != 1 {
		t.Fatalf("%d settings audit rows, want globex's one", n)
	}
}

func TestPlatformTenantBranding(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)

	body := tenantBody("acme", "Acme", "NGN")
	body["logoUrl"], body["accentColor"] = "https://cdn.acme.example/logo.svg", "#0A0B0C"
	res := api.do(request{method: "POST", path: "/v1/platform/tenants", platformKey: true, body: body})
	if res.status != 201 {
		t.Fatalf("create201: %d %s", res.status, res.raw)
	}
	tn := res.body["tenant"].(map[string]any)
	if tn["logoUrl"] != "https://cdn.acme.example/logo.svg" || tn["accentColor"] != "#0a0b0c" {
		t.Fatalf("create201: %s", res.raw)
	}
	if plain := api.createTenant("plain"); plain["logoUrl"] != "" || plain["accentColor"] != "#4f46e5" {
		t.Fatalf("defaults: logoUrl %v, accentColor %v", plain["logoUrl"], plain["accentColor"])
	}
	assertSettings(t, api.getSettings("acme"), "Acme", "https://cdn.acme.example/logo.svg", "#0a0b0c", "NGN")

	path := "/v1/platform/tenants/" + tn["id"].(string)
	res = api.do(request{method: "PATCH", path: path, platformKey: true, body: map[string]string{"accentColor": "#112233", "logoUrl": ""}})
	if res.status != 200 || res.body["accentColor"] != "#112233" || res.body["logoUrl"] != "" || res.body["name"] != "Acme" {
		t.Fatalf("patch200: %d %s", res.status, res.raw)
	}
	assertSettings(t, api.getSettings("acme"), "Acme", "", "#112233", "NGN")

	for name, branding := range map[string]map[string]string{
		"createBadColour400":      {"accentColor": "red"},
		"createJavascriptURL400":  {"logoUrl": "javascript:alert(1)"},
		"createCredentialsURL400": {"logoUrl": "https://a:b@x.example/"},
	} {
		t.Run(name, func(t *testing.T) {
			body := tenantBody("other", "O", "NGN")
			for k, v := range branding {
				body[k] = v
			}
			assertError(t, api.do(request{method: "POST", path: "/v1/platform/tenants", platformKey: true, body: body}), 400, "VALIDATION_FAILED")
		})
	}
	for name, body := range map[string]any{
		"patchBadColour400":     map[string]string{"accentColor": "#12345"},
		"patchOverlongURL400":   map[string]string{"logoUrl": "https://x.example/" + strings.Repeat("a", 2048)},
		"patchJavascriptURL400": map[string]string{"logoUrl": "javascript:alert(1)"},
	} {
		t.Run(name, func(t *testing.T) {
			assertError(t, api.do(request{method: "PATCH", path: path, platformKey: true, body: body}), 400, "VALIDATION_FAILED")
		})
	}
	if n := api.count("tenants"); n != 2 {
		t.Fatalf("%d tenants after failed creations, want 2", n)
	}
}
