package httpapi_test

import (
	"testing"

	"github.com/ticketd-io/ticketd/internal/httpapi"
)

func TestTenantResolution(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.TrustedProxies = []string{"10.9.9.9"} // the test client (0.0.0.0) is not a trusted proxy
	})
	api.createTenant("acme")
	globex := api.createTenant("globex")
	res := api.do(request{method: "POST", path: "/v1/platform/tenants/" + globex["id"].(string) + "/domains", platformKey: true,
		body: map[string]string{"domain": "Tickets.Globex.example"}})
	if res.status != 201 {
		t.Fatalf("add domain: %d %s", res.status, res.raw)
	}
	suspended := api.createTenant("sleepy")
	res = api.do(request{method: "PATCH", path: "/v1/platform/tenants/" + suspended["id"].(string), platformKey: true,
		body: map[string]string{"status": "suspended"}})
	if res.status != 200 {
		t.Fatalf("suspend: %d %s", res.status, res.raw)
	}

	cases := []struct {
		name     string
		host     string
		headers  map[string]string
		wantSlug string // "" means 404 TENANT_NOT_FOUND
	}{
		{"subdomain200", "acme.tickets.test", nil, "acme"},
		{"subdomainWithPortAndCase200", "ACME.tickets.test:8080", nil, "acme"},
		{"customDomain200", "tickets.globex.example", nil, "globex"},
		{"header200", "tickets.test", map[string]string{"X-Tenant": "acme"}, "acme"},
		{"headerOnUnknownHost200", "api.example.net", map[string]string{"X-Tenant": "globex"}, "globex"},
		{"subdomainWinsOverHeader200", "acme.tickets.test", map[string]string{"X-Tenant": "globex"}, "acme"},
		{"customDomainWinsOverHeader200", "tickets.globex.example", map[string]string{"X-Tenant": "acme"}, "globex"},
		{"unknownSubdomain404", "nobody.tickets.test", nil, ""},
		{"unknownSubdomainDoesNotFallBackToHeader404", "nobody.tickets.test", map[string]string{"X-Tenant": "acme"}, ""},
		{"unknownHeader404", "tickets.test", map[string]string{"X-Tenant": "nobody"}, ""},
		{"noTenantAtAll404", "tickets.test", nil, ""},
		{"unknownCustomDomain404", "tickets.unknown.example", nil, ""},
		{"suspendedSubdomain404", "sleepy.tickets.test", nil, ""},
		{"suspendedHeader404", "tickets.test", map[string]string{"X-Tenant": "sleepy"}, ""},
		{"forgedForwardedHostFromUntrustedPeerIgnored404", "tickets.test", map[string]string{"X-Forwarded-Host": "acme.tickets.test"}, ""},
		{"forgedForwardedHostCannotSwitchTenant200", "globex.tickets.test", map[string]string{"X-Forwarded-Host": "acme.tickets.test"}, "globex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := api.do(request{method: "GET", path: "/v1/health", host: c.host, headers: c.headers})
			if c.wantSlug == "" {
				assertError(t, res, 404, "TENANT_NOT_FOUND")
				return
			}
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.raw)
			}
			if got := res.body["tenant"].(map[string]any)["slug"]; got != c.wantSlug {
				t.Fatalf("resolved %v, want %s", got, c.wantSlug)
			}
		})
	}
}

func TestTenantResolutionHonoursTrustedProxy(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.TrustedProxies = []string{"0.0.0.0/32"} // the address app.Test reports for its client
	})
	api.createTenant("acme")
	res := api.do(request{method: "GET", path: "/v1/health", host: "internal-lb:8080",
		headers: map[string]string{"X-Forwarded-Host": "acme.tickets.test", "X-Forwarded-Proto": "https"}})
	if res.status != 200 || res.body["tenant"].(map[string]any)["slug"] != "acme" {
		t.Fatalf("status %d: %s; want acme through the trusted proxy", res.status, res.raw)
	}
	if res.header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS header on a request the trusted proxy received over TLS")
	}
}

func TestSuspensionTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	acme := api.createTenant("acme")
	get := func() response { return api.do(request{method: "GET", path: "/v1/health", host: "acme.tickets.test"}) }
	if res := get(); res.status != 200 {
		t.Fatalf("before suspension: %d", res.status)
	}
	for _, status := range []string{"suspended", "active"} {
		res := api.do(request{method: "PATCH", path: "/v1/platform/tenants/" + acme["id"].(string), platformKey: true,
			body: map[string]string{"status": status}})
		if res.status != 200 {
			t.Fatalf("set %s: %d %s", status, res.status, res.raw)
		}
		want := map[string]int{"suspended": 404, "active": 200}[status]
		if res := get(); res.status != want {
			t.Fatalf("after setting %s (cached before): %d, want %d", status, res.status, want)
		}
	}
}

func TestNewTenantResolvesAtOnce(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	get := func() response { return api.do(request{method: "GET", path: "/v1/health", host: "newco.tickets.test"}) }
	assertError(t, get(), 404, "TENANT_NOT_FOUND") // now cached as unknown
	api.createTenant("newco")
	if res := get(); res.status != 200 {
		t.Fatalf("a tenant created on this instance is still unknown: %d", res.status)
	}
}
