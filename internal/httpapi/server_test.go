package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/httpapi"
)

func TestErrorShapeEverywhere(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.srv.App().Get("/test/panic", func(*fiber.Ctx) error { panic("boom: secret internals") })
	api.srv.App().Get("/test/plain-error", func(*fiber.Ctx) error { return errors.New("dial tcp 10.0.0.7:5432: secret internals") })

	assertError(t, api.do(request{method: "GET", path: "/no/such/route"}), 404, "NOT_FOUND")
	res := api.do(request{method: "DELETE", path: "/healthz"})
	assertError(t, res, 405, "METHOD_NOT_ALLOWED")
	if res.header.Get("Allow") == "" {
		t.Error("405 without Allow header")
	}
	for _, path := range []string{"/test/panic", "/test/plain-error"} {
		res := api.do(request{method: "GET", path: path})
		assertError(t, res, 500, "INTERNAL")
		if strings.Contains(string(res.raw), "secret") || messages(res) != "Internal Server Error" {
			t.Fatalf("%s leaks internals: %s", path, res.raw)
		}
		if !strings.Contains(api.log.String(), "secret internals") {
			t.Fatalf("%s: the cause is not in the log", path)
		}
	}

	// Fasthttp rejects an oversized body while reading it, before routing;
	// only a real connection shows what the client then gets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = api.srv.App().Listener(ln) }()
	defer func() { _ = api.srv.App().Shutdown() }()
	// Announce a body over the limit and send none of it: the server must
	// answer from the headers alone.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/platform/tenants HTTP/1.1\r\nHost: tickets.test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 2<<20)
	httpRes, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer httpRes.Body.Close()
	raw, _ := io.ReadAll(httpRes.Body)
	res = response{status: httpRes.StatusCode, header: httpRes.Header, raw: raw}
	if err := json.Unmarshal(raw, &res.body); err != nil {
		t.Fatalf("413 body is not JSON: %s", raw)
	}
	assertError(t, res, 413, "BODY_TOO_LARGE")
}

func TestRequestIDAndSecurityHeaders(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	res := api.do(request{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-ID": "edge-abc.123"}})
	if res.status != 200 || res.header.Get("X-Request-ID") == "edge-abc.123" {
		t.Fatalf("a client chose its request id (it lands in the audit log): %d %q", res.status, res.header.Get("X-Request-ID"))
	}
	proxied := newTestAPI(t, func(c *httpapi.Config, _ *httpapi.Deps) { c.TrustedProxies = []string{"0.0.0.0/32"} })
	res = proxied.do(request{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-ID": "edge-abc.123"}})
	if res.status != 200 || res.header.Get("X-Request-ID") != "edge-abc.123" {
		t.Fatalf("well-formed request id of a trusted proxy not adopted: %d %q", res.status, res.header.Get("X-Request-ID"))
	}
	res = api.do(request{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-ID": "bad id\" with spaces"}})
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(res.header.Get("X-Request-ID")) {
		t.Fatalf("malformed request id not replaced: %q", res.header.Get("X-Request-ID"))
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	} {
		if got := res.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if hsts := res.header.Get("Strict-Transport-Security"); hsts != "" {
		t.Errorf("HSTS %q on plain HTTP from an untrusted peer", hsts)
	}
	forged := api.do(request{method: "GET", path: "/healthz", headers: map[string]string{"X-Forwarded-Proto": "https"}})
	if forged.header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS set on X-Forwarded-Proto from an untrusted peer")
	}
}

func TestAccessLogKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.do(request{method: "POST", path: "/v1/platform/tenants?token=query-secret", platformKey: true,
		body: tenantBody("acme", "Body Secret Name", "NGN")})
	api.do(request{method: "GET", path: "/v1/health", host: "acme.tickets.test"})
	log := api.log.String()
	for _, secret := range []string{testPlatformKey, "query-secret", "Body Secret Name"} {
		if strings.Contains(log, secret) {
			t.Errorf("access log contains %q:\n%s", secret, log)
		}
	}
	var line struct {
		Msg       string  `json:"msg"`
		RequestID string  `json:"requestId"`
		Route     string  `json:"route"`
		Status    int     `json:"status"`
		Tenant    string  `json:"tenant"`
		LatencyMs float64 `json:"latencyMs"`
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if line.Msg == "request" && line.Route == "/v1/health" {
			found = line.Tenant == "acme" && line.Status == 200 && line.RequestID != "" && line.LatencyMs >= 0
		}
	}
	if !found {
		t.Fatalf("no access log line with route, tenant, status and request id:\n%s", log)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	if res := api.do(request{method: "GET", path: "/readyz"}); res.status != 200 {
		t.Fatalf("ready200: %d %s", res.status, res.raw)
	}
	down := newTestAPI(t, func(_ *httpapi.Config, d *httpapi.Deps) {
		d.Ready["redis"] = func(context.Context) error { return errors.New("dial tcp 127.0.0.1:6379: refused") }
	})
	res := down.do(request{method: "GET", path: "/readyz"})
	assertError(t, res, 503, "UNAVAILABLE")
	if messages(res) != "redis is not reachable" {
		t.Fatalf("messages %q", messages(res))
	}

	// An optional dependency (the read replica) that does not answer is
	// named, and the instance stays ready.
	replicaDown := func(_ *httpapi.Config, d *httpapi.Deps) {
		d.Optional = map[string]func(context.Context) error{
			"postgres read replica": func(context.Context) error { return errors.New("dial tcp 127.0.0.1:6432: refused") },
		}
	}
	res = newTestAPI(t, replicaDown).do(request{method: "GET", path: "/readyz"})
	if res.status != 200 || res.body["status"] != "ok" || fmt.Sprint(res.body["degraded"]) != "[postgres read replica is not reachable]" {
		t.Fatalf("ready200DegradedWithoutTheReplica: %d %s", res.status, res.raw)
	}
	both := newTestAPI(t, replicaDown, func(_ *httpapi.Config, d *httpapi.Deps) {
		d.Ready["postgres"] = func(context.Context) error { return errors.New("dial tcp 127.0.0.1:5432: refused") }
	})
	res = both.do(request{method: "GET", path: "/readyz"})
	assertError(t, res, 503, "UNAVAILABLE")
	if messages(res) != "postgres is not reachable" {
		t.Fatalf("503 with the primary and the replica down: messages %q", messages(res))
	}
}

// TestDrainFailsReadyzAndClosesConnections: once the server drains,
// /readyz fails with the reason while every other request is served as
// before, each on a connection the response closes.
func TestDrainFailsReadyzAndClosesConnections(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	healthz := func() *http.Response {
		t.Helper()
		res, err := api.srv.App().Test(httptest.NewRequest("GET", "http://tickets.test/healthz", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := healthz(); res.StatusCode != 200 || res.Close {
		t.Fatalf("healthz before draining: %d, closes the connection: %v", res.StatusCode, res.Close)
	}
	api.srv.Drain()
	res := api.do(request{method: "GET", path: "/readyz"})
	assertError(t, res, 503, "UNAVAILABLE")
	if messages(res) != httpapi.ShuttingDown {
		t.Fatalf("messages %q", messages(res))
	}
	if res := healthz(); res.StatusCode != 200 || !res.Close {
		t.Fatalf("healthz while draining: %d, closes the connection: %v", res.StatusCode, res.Close)
	}
	api.createTenant("acme") // a request that writes is served too
}

func TestMetricsUseRoutePatterns(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	id := api.createTenant("acme")["id"].(string)
	api.do(request{method: "GET", path: "/v1/platform/tenants/" + id, platformKey: true})
	api.do(request{method: "GET", path: "/nope/" + id})
	api.do(request{method: "GET", path: "/v1/health", host: "acme.tickets.test"})
	res := api.do(request{method: "GET", path: "/metrics"})
	body := string(res.raw)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/v1/platform/tenants/:id",status="200"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`ticketd_tenant_resolution_total`,
		`ticketd_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, id) {
		t.Error("metrics carry an id from a path")
	}
}

// isShopPage tells the organizer's shop pages (storefront.go), which are
// not API operations, from the routes the document covers: the API under
// /v1 and /api, and the probes and metrics.
func isShopPage(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return false
	}
	return !strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/api/")
}

// TestOpenAPICoversEveryRoute fails when a route is added without being
// documented, and when the document names a route that does not exist.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	res := api.do(request{method: "GET", path: "/api/openapi.json"})
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(res.raw, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document (%v): %.200s", err, res.raw)
	}
	param := regexp.MustCompile(`:(\w+)`)
	registered := map[string]bool{}
	for _, r := range api.srv.App().GetRoutes(true) {
		if r.Method == fiber.MethodHead || isShopPage(r.Path) {
			continue
		}
		key := strings.ToLower(r.Method) + " " + param.ReplaceAllString(r.Path, "{$1}")
		registered[key] = true
		path := param.ReplaceAllString(r.Path, "{$1}")
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in /api/openapi.json", r.Method, r.Path)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method != "parameters" && !registered[method+" "+path] {
				t.Errorf("/api/openapi.json documents %s %s, which is not a route", method, path)
			}
		}
	}
	// What the docs page loads, and under which policy: TestAPIDocs.
	docs := api.do(request{method: "GET", path: "/api/docs"})
	if docs.status != 200 {
		t.Fatalf("docs page: %d", docs.status)
	}
}
