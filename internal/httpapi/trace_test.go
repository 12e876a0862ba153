package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/paystack"
	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/telemetry"
)

// A caller's trace context: trace 4bf9…, span 00f0….
const (
	callerTrace       = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan        = "00f067aa0ba902b7"
	callerTraceparent = "00-" + callerTrace + "-" + callerSpan + "-01"
)

// traced configures the API with a tracer provider that keeps its spans in
// exp, and a request log that carries trace ids.
func traced(exp *tracetest.InMemoryExporter) func(*httpapi.Config, *httpapi.Deps) {
	return func(_ *httpapi.Config, d *httpapi.Deps) {
		d.Tracing = sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		d.Logger = slog.New(telemetry.TraceLogHandler(d.Logger.Handler()))
	}
}

// serverSpans returns the server spans exported so far.
func serverSpans(exp *tracetest.InMemoryExporter) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindServer {
			out = append(out, s)
		}
	}
	return out
}

func attrOf(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// logLines returns the request log lines of route, decoded.
func logLines(t *testing.T, log, route string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" && m["route"] == route {
			out = append(out, m)
		}
	}
	return out
}

// TestTraceparentFromTrustedProxyOnly: a trusted proxy's traceparent is
// continued; anyone else's starts a new trace that links to it. Either way
// the response carries the request's own traceparent, the span is named
// after the route pattern, never the path, and names the tenant.
func TestTraceparentFromTrustedProxyOnly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		trusted []string
	}{{"trusted", []string{"0.0.0.0/32"}}, {"untrusted", []string{"10.0.0.0/8"}}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			exp := tracetest.NewInMemoryExporter()
			api := newTestAPI(t, traced(exp), func(cfg *httpapi.Config, _ *httpapi.Deps) { cfg.TrustedProxies = c.trusted })
			tenant := api.createTenant("acme")
			exp.Reset()
			path := "/v1/events/7f1d8a3c-0000-4000-8000-000000000000"
			res := api.do(request{method: "GET", path: path, host: "acme.tickets.test",
				headers: map[string]string{"traceparent": callerTraceparent, "tracestate": "vendor=x"}})
			assertError(t, res, 404, "NOT_FOUND")

			spans := serverSpans(exp)
			if len(spans) != 1 {
				t.Fatalf("%d server spans: %+v", len(spans), spans)
			}
			s := spans[0]
			if s.Name != "GET /v1/events/:id" || attrOf(s, "http.route") != "/v1/events/:id" || attrOf(s, "http.response.status_code") != "404" {
				t.Errorf("span %q route %q status %q", s.Name, attrOf(s, "http.route"), attrOf(s, "http.response.status_code"))
			}
			if attrOf(s, "ticketd.tenant") != tenant["id"] || attrOf(s, "ticketd.tenant.slug") != "acme" {
				t.Errorf("tenant attributes %q %q, want %v", attrOf(s, "ticketd.tenant"), attrOf(s, "ticketd.tenant.slug"), tenant["id"])
			}
			if attrOf(s, "ticketd.request_id") != res.header.Get("X-Request-ID") {
				t.Errorf("request id %q, response says %q", attrOf(s, "ticketd.request_id"), res.header.Get("X-Request-ID"))
			}
			own := s.SpanContext
			if want := "00-" + own.TraceID().String() + "-" + own.SpanID().String() + "-01"; res.header.Get("traceparent") != want {
				t.Errorf("response traceparent %q, want %q", res.header.Get("traceparent"), want)
			}
			continued := own.TraceID().String() == callerTrace
			switch c.name {
			case "trusted":
				if !continued || s.Parent.SpanID().String() != callerSpan || !s.Parent.IsRemote() || s.Parent.TraceState().Get("vendor") != "x" {
					t.Errorf("the trusted proxy's trace was not continued: trace %s parent %s", own.TraceID(), s.Parent.SpanID())
				}
				if len(s.Links) != 0 {
					t.Errorf("links: %+v", s.Links)
				}
			case "untrusted":
				if continued || s.Parent.IsValid() {
					t.Errorf("an untrusted caller chose the trace: trace %s parent %s", own.TraceID(), s.Parent.SpanID())
				}
				if len(s.Links) != 1 || s.Links[0].SpanContext.TraceID().String() != callerTrace ||
					!slicesContain(s.Links[0].Attributes, attribute.Bool("ticketd.untrusted", true)) {
					t.Errorf("links: %+v", s.Links)
				}
				if strings.Contains(res.header.Get("tracestate"), "vendor") {
					t.Errorf("the untrusted tracestate came back: %q", res.header.Get("tracestate"))
				}
			}

			// The request's log line leads to its span.
			lines := logLines(t, api.log.String(), "/v1/events/:id")
			if len(lines) != 1 || lines[0]["trace_id"] != own.TraceID().String() || lines[0]["span_id"] != own.SpanID().String() {
				t.Errorf("request log lines %v, want trace %s span %s", lines, own.TraceID(), own.SpanID())
			}
		})
	}
}

func slicesContain(kvs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, kv := range kvs {
		if kv == want {
			return true
		}
	}
	return false
}

// TestUnmatchedAndProbeRequests: a path no route matches is named by its
// method alone; probes are not traced at all.
func TestUnmatchedAndProbeRequests(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	api := newTestAPI(t, traced(exp))
	if res := api.do(request{method: "GET", path: "/v1/no/such/thing/bk_secretish"}); res.status != 404 {
		t.Fatalf("status %d", res.status)
	}
	for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
		if res := api.do(request{method: "GET", path: probe}); res.status != 200 || res.header.Get("traceparent") != "" {
			t.Fatalf("%s: %d, traceparent %q", probe, res.status, res.header.Get("traceparent"))
		}
	}
	spans := serverSpans(exp)
	if len(spans) != 1 || spans[0].Name != "GET" || attrOf(spans[0], "http.route") != "" {
		t.Fatalf("spans %+v", spans)
	}
}

// TestNoTracingNoTraceparent: without a tracer provider the API answers
// no traceparent and ignores the caller's.
func TestNoTracingNoTraceparent(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	res := api.do(request{method: "GET", path: "/api/openapi.json", headers: map[string]string{"traceparent": callerTraceparent}})
	if res.status != 200 || res.header.Get("traceparent") != "" {
		t.Fatalf("status %d, traceparent %q", res.status, res.header.Get("traceparent"))
	}
	for _, l := range strings.Split(strings.TrimSpace(api.log.String()), "\n") {
		if strings.Contains(l, "trace_id") {
			t.Fatalf("a trace id logged without tracing: %s", l)
		}
	}
}

// TestPaymentRoutesLoggedAtInfo: Paystack's webhooks and the buyer's
// return are logged at info level with their reference, though other
// system routes that succeed are logged at debug; neither the signature nor
// the key is logged, and the spans name the tenant the reference belongs
// to.
func TestPaymentRoutesLoggedAtInfo(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	s := newPaySale(t, traced(exp))
	ref := s.checkout(s.buyers[0], s.bookGA(s.buyers[0], 1))
	redirect := s.simPay(ref, paystacksim.OutcomeSuccess)
	s.simIdle()
	if res := s.callback(redirect, nil); res.status != 200 {
		t.Fatalf("callback: %d %s", res.status, res.raw)
	}
	body := chargeSuccess(ref, 500000)
	sig := paystack.Sign(testPaystackKey, []byte(body))
	if res := s.webhook(body, sig); res.status != 200 {
		t.Fatalf("webhook: %d %s", res.status, res.raw)
	}
	if res := s.do(request{method: "GET", path: "/healthz"}); res.status != 200 {
		t.Fatal(res.status)
	}
	log := s.log.String()
	for _, route := range []string{"/v1/payments/callback", "/v1/webhooks/paystack"} {
		lines := logLines(t, log, route)
		if len(lines) == 0 {
			t.Fatalf("no request line of %s:\n%s", route, log)
		}
		for _, l := range lines {
			if l["level"] != "INFO" || l["reference"] != ref || l["status"] != float64(200) || l["trace_id"] == nil {
				t.Errorf("%s logged as %v", route, l)
			}
		}
	}
	if lines := logLines(t, log, "/healthz"); len(lines) != 1 || lines[0]["level"] != "DEBUG" {
		t.Errorf("healthz logged as %v", lines)
	}
	for _, secret := range []string{sig, testPaystackKey} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	var tenantID string
	if err := s.db.Admin.QueryRow(t.Context(), "SELECT id::text FROM tenants WHERE slug = 'acme'").Scan(&tenantID); err != nil {
		t.Fatal(err)
	}
	for _, sp := range serverSpans(exp) {
		if (sp.Name == "GET /v1/payments/callback" || sp.Name == "POST /v1/webhooks/paystack") && attrOf(sp, "ticketd.tenant") != tenantID {
			t.Errorf("%s names tenant %q, want %s", sp.Name, attrOf(sp, "ticketd.tenant"), tenantID)
		}
	}
}
