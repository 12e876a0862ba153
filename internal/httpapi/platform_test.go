package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ticketd-io/ticketd/internal/httpapi"
)

func TestPlatformAuth(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	cases := []struct {
		name    string
		headers map[string]string
	}{
		{"missing401", nil},
		{"wrongKey401", map[string]string{"Authorization": "Bearer not-the-key-0123456789"}},
		{"keyPrefix401", map[string]string{"Authorization": "Bearer " + testPlatformKey[:10]}},
		{"notBearer401", map[string]string{"Authorization": "Basic " + testPlatformKey}},
		{"bareKey401", map[string]string{"Authorization": testPlatformKey}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []request{
				{method: "POST", path: "/v1/platform/tenants", body: tenantBody("acme", "Acme", "NGN")},
				{method: "GET", path: "/v1/platform/tenants"},
			} {
				r.headers = c.headers
				res := api.do(r)
				assertError(t, res, 401, "UNAUTHORIZED")
				if res.header.Get("WWW-Authenticate") != "Bearer" {
					t.Fatal("401 without WWW-Authenticate: Bearer")
				}
			}
		})
	}
	if n := api.count("tenants"); n != 0 {
		t.Fatalf("%d tenants written by unauthenticated requests", n)
	}

	t.Run("disabledWithoutKey401", func(t *testing.T) {
		api := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.PlatformAPIKey = "" })
		assertError(t, api.do(request{method: "GET", path: "/v1/platform/tenants", headers: map[string]string{"Authorization": "Bearer "}}), 401, "UNAUTHORIZED")
	})
}

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)

	res := api.do(request{method: "POST", path: "/v1/platform/tenants", platformKey: true,
		body: tenantBody("lagos-live", " Lagos Live ", "ngn")})
	if res.status != 201 {
		t.Fatalf("create201: %d %s", res.status, res.raw)
	}
	tn := res.body["tenant"].(map[string]any)
	if admin := res.body["admin"].(map[string]any); admin["role"] != "ADMIN" || admin["email"] != "admin@lagos-live.test" || admin["password"] != nil {
		t.Fatalf("create201: admin %v", admin)
	}
	if tn["slug"] != "lagos-live" || tn["name"] != "Lagos Live" || tn["currency"] != "NGN" || tn["status"] != "active" {
		t.Fatalf("create201: got %s", res.raw)
	}
	if n := api.count("audit_log WHERE action = 'tenant.create'"); n != 1 {
		t.Fatalf("%d audit rows for the creation, want 1", n)
	}

	bad := []struct {
		name      string
		body      any
		status    int
		code      string
		mentioned []string
	}{
		{"slugTooShort400", tenantBody("ab", "A", "NGN"), 400, "VALIDATION_FAILED", []string{"slug"}},
		{"slugTooLong400", map[string]string{"slug": strings.Repeat("a", 41), "name": "A", "currency": "NGN"}, 400, "VALIDATION_FAILED", []string{"slug"}},
		{"slugUppercase400", tenantBody("Acme", "A", "NGN"), 400, "VALIDATION_FAILED", []string{"slug"}},
		{"slugUnderscore400", tenantBody("acme_events", "A", "NGN"), 400, "VALIDATION_FAILED", []string{"slug"}},
		{"slugEdgeHyphen400", tenantBody("-acme", "A", "NGN"), 400, "VALIDATION_FAILED", []string{"slug"}},
		{"slugReserved400", tenantBody("www", "A", "NGN"), 400, "VALIDATION_FAILED", []string{"slug"}},
		{"slugReservedPlatform400", tenantBody("platform", "A", "NGN"), 400, "VALIDATION_FAILED", []string{"slug"}},
		{"everyProblemAtOnce400", tenantBody("x", "", "EUR"), 400, "VALIDATION_FAILED", []string{"slug", "name", "currency"}},
		{"nameTooLong400", tenantBody("acme", strings.Repeat("n", 121), "NGN"), 400, "VALIDATION_FAILED", []string{"name"}},
		{"unknownField400", `{"slug":"acme","name":"A","currency":"NGN","admin":1}`, 400, "VALIDATION_FAILED", []string{"admin"}},
		{"wrongType400", `{"slug":42,"name":"A","currency":"NGN"}`, 400, "VALIDATION_FAILED", []string{"slug"}},
		{"malformedJSON400", `{"slug":`, 400, "VALIDATION_FAILED", []string{"JSON"}},
		{"notAnObject400", `["acme"]`, 400, "VALIDATION_FAILED", []string{"object"}},
		{"emptyBody400", "", 400, "VALIDATION_FAILED", []string{"object"}},
		{"adminMissing400", `{"slug":"acme","name":"A","currency":"NGN"}`, 400, "VALIDATION_FAILED", []string{"admin.email", "admin.password", "admin.name"}},
		{"adminBadEmail400", map[string]any{"slug": "acme", "name": "A", "currency": "NGN", "admin": map[string]string{"email": "not-an-email", "password": adminPassword, "name": "A"}}, 400, "VALIDATION_FAILED", []string{"admin.email"}},
		{"adminShortPassword400", map[string]any{"slug": "acme", "name": "A", "currency": "NGN", "admin": map[string]string{"email": "a@acme.test", "password": "short", "name": "A"}}, 400, "VALIDATION_FAILED", []string{"admin.password"}},
		{"duplicateSlug409", tenantBody("lagos-live", "Other", "GHS"), 409, "SLUG_TAKEN", []string{"lagos-live"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			res := api.do(request{method: "POST", path: "/v1/platform/tenants", platformKey: true, body: c.body})
			assertError(t, res, c.status, c.code)
			for _, word := range c.mentioned {
				if !strings.Contains(messages(res), word) {
					t.Errorf("messages %q do not mention %q", messages(res), word)
				}
			}
		})
	}
	if n := api.count("tenants"); n != 1 {
		t.Fatalf("%d tenants after failed creations, want 1", n)
	}
	if n := api.count("audit_log"); n != 1 {
		t.Fatalf("%d audit rows after failed creations, want 1", n)
	}
	if n := api.count("users"); n != 1 {
		t.Fatalf("%d users after failed creations, want the one admin", n)
	}

	t.Run("wrongContentType415", func(t *testing.T) {
		res := api.do(request{method: "POST", path: "/v1/platform/tenants", platformKey: true,
			body: `{"slug":"acme","name":"A","currency":"NGN"}`, headers: map[string]string{"Content-Type": "text/plain"}})
		assertError(t, res, 415, "UNSUPPORTED_MEDIA_TYPE")
	})
}

func TestCreateTenantConcurrentSameSlug(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = api.do(request{method: "POST", path: "/v1/platform/tenants", platformKey: true,
				body: tenantBody("race", "Race", "NGN")}).status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Fatalf("status %d in %v", s, statuses)
		}
	}
	if created != 1 || api.count("tenants") != 1 || api.count("audit_log") != 1 {
		t.Fatalf("statuses %v: want exactly one creation, one row, one audit row", statuses)
	}
}

func TestListTenantsPaginates(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	want := map[string]bool{}
	for i := range 7 {
		slug := fmt.Sprintf("org-%02d", i)
		api.createTenant(slug)
		want[slug] = true
	}
	seen := walkPages(t, "/v1/platform/tenants?limit=3", "slug", func(path string) response {
		return api.do(request{method: "GET", path: path, platformKey: true})
	})
	if len(seen) != len(want) {
		t.Fatalf("listed %v, want %v", seen, want)
	}

	for name, q := range map[string]string{
		"badCursor400": "?cursor=not-a-cursor",
		"badLimit400":  "?limit=zero",
		"badStatus400": "?status=deleted",
	} {
		t.Run(name, func(t *testing.T) {
			assertError(t, api.do(request{method: "GET", path: "/v1/platform/tenants" + q, platformKey: true}), 400, "VALIDATION_FAILED")
		})
	}
	t.Run("filterByStatus200", func(t *testing.T) {
		res := api.do(request{method: "GET", path: "/v1/platform/tenants?status=suspended", platformKey: true})
		if res.status != 200 || len(res.body["data"].([]any)) != 0 || res.body["nextCursor"] != nil {
			t.Fatalf("suspended list: %d %s", res.status, res.raw)
		}
	})
}

func TestGetAndUpdateTenant(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	id := api.createTenant("acme")["id"].(string)
	path := "/v1/platform/tenants/" + id

	if res := api.do(request{method: "GET", path: path, platformKey: true}); res.status != 200 || res.body["slug"] != "acme" {
		t.Fatalf("get200: %d %s", res.status, res.raw)
	}
	assertError(t, api.do(request{method: "GET", path: "/v1/platform/tenants/7f1d8a3c-0000-4000-8000-000000000000", platformKey: true}), 404, "NOT_FOUND")
	assertError(t, api.do(request{method: "GET", path: "/v1/platform/tenants/not-a-uuid", platformKey: true}), 404, "NOT_FOUND")

	res := api.do(request{method: "PATCH", path: path, platformKey: true, body: map[string]string{"name": "Acme Live", "currency": "GHS"}})
	if res.status != 200 || res.body["name"] != "Acme Live" || res.body["currency"] != "GHS" || res.body["status"] != "active" {
		t.Fatalf("patch200: %d %s", res.status, res.raw)
	}
	before := api.count("audit_log")
	for name, body := range map[string]any{
		"emptyPatch400":    map[string]string{},
		"badStatus400":     map[string]string{"status": "deleted"},
		"badCurrency400":   map[string]string{"currency": "EURO"},
		"emptyName400":     map[string]string{"name": "  "},
		"slugImmutable400": map[string]string{"slug": "other"},
	} {
		t.Run(name, func(t *testing.T) {
			assertError(t, api.do(request{method: "PATCH", path: path, platformKey: true, body: body}), 400, "VALIDATION_FAILED")
		})
	}
	assertError(t, api.do(request{method: "PATCH", path: "/v1/platform/tenants/7f1d8a3c-0000-4000-8000-000000000000", platformKey: true,
		body: map[string]string{"name": "Ghost"}}), 404, "NOT_FOUND")
	if after := api.count("audit_log"); after != before {
		t.Fatalf("failed updates wrote %d audit rows", after-before)
	}
}

func TestTenantDomains(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	acme := api.createTenant("acme")["id"].(string)
	globex := api.createTenant("globex")["id"].(string)
	add := func(id, domain string) response {
		return api.do(request{method: "POST", path: "/v1/platform/tenants/" + id + "/domains", platformKey: true, body: map[string]string{"domain": domain}})
	}

	res := add(acme, "Tickets.Acme.Example.")
	if res.status != 201 || fmt.Sprint(res.body["domains"]) != "[tickets.acme.example]" {
		t.Fatalf("add201: %d %s", res.status, res.raw)
	}
	assertError(t, add(globex, "tickets.acme.example"), 409, "DOMAIN_TAKEN")
	for _, d := range []string{"", "localhost", "acme", "10.0.0.1", "bad_domain.example", "acme.tickets.test", "tickets.test", "-x.example"} {
		assertError(t, add(acme, d), 400, "VALIDATION_FAILED")
	}
	assertError(t, add("7f1d8a3c-0000-4000-8000-000000000000", "x.example"), 404, "NOT_FOUND")
	if n := api.count("tenant_domains"); n != 1 {
		t.Fatalf("%d domains after failures, want 1", n)
	}

	if res := api.do(request{method: "GET", path: "/v1/health", host: "tickets.acme.example"}); res.status != 200 {
		t.Fatalf("resolve custom domain: %d", res.status)
	}
	del := func(id, domain string) response {
		return api.do(request{method: "DELETE", path: "/v1/platform/tenants/" + id + "/domains/" + domain, platformKey: true})
	}
	assertError(t, del(globex, "tickets.acme.example"), 404, "NOT_FOUND")
	if res := del(acme, "tickets.acme.example"); res.status != 200 || fmt.Sprint(res.body["domains"]) != "[]" {
		t.Fatalf("delete200: %d %s", res.status, res.raw)
	}
	assertError(t, api.do(request{method: "GET", path: "/v1/health", host: "tickets.acme.example"}), 404, "TENANT_NOT_FOUND")
}
