package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/telemetry/otlpsink"
	"github.com/ticketd-io/ticketd/internal/telemetry/telemetrytest"
)

// spanTree indexes the spans of a test by id.
type spanTree map[trace.SpanID]tracetest.SpanStub

func treeOf(spans tracetest.SpanStubs) spanTree {
	out := spanTree{}
	for _, s := range spans {
		out[s.SpanContext.SpanID()] = s
	}
	return out
}

// under reports whether s descends from the span ancestor.
func (t spanTree) under(s tracetest.SpanStub, ancestor trace.SpanID) bool {
	for p := s.Parent.SpanID(); p.IsValid(); {
		if p == ancestor {
			return true
		}
		parent, ok := t[p]
		if !ok {
			return false
		}
		p = parent.Parent.SpanID()
	}
	return false
}

// confirmsBooking reports whether sp runs the SQL that confirms a booking
// (pgx prepares a statement the first time, in a span of its own with the
// statement's name, then runs it: the run is the one that confirms).
func confirmsBooking(sp tracetest.SpanStub) bool {
	_, prepare := attrValue(sp.Attributes, "pgx.prepare_stmt.name")
	q, _ := attrValue(sp.Attributes, "db.query.text")
	return strings.Contains(q, "UPDATE bookings SET status = 'confirmed'") && !prepare
}

func attrValue(attrs []attribute.KeyValue, key string) (string, bool) {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value.Emit(), true
		}
	}
	return "", false
}

// TestOneTraceFromWebhookToConfirmation: the Paystack webhook's request,
// the payment:verify task it enqueues and the SQL that confirms the booking
// are one trace: server span → producer span → consumer span → SQL, Redis
// and Paystack spans. No span holds a query's parameter values, the buyer's
// email, a secret or an Authorization header, and the request's log line
// names its trace.
func TestOneTraceFromWebhookToConfirmation(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	log := &telemetrytest.LogBuffer{}
	s := newStackWith(t, stackOptions{
		tracing: telemetry.NewTracingWith(sdktrace.WithSyncer(exp)),
		log:     log,
		// Only the webhook's task may confirm the booking: no reconciler,
		// no sweep, no buyer coming back.
		vars: map[string]string{"PAYMENT_RECONCILE_INTERVAL": "1h", "PAYMENT_STALE_AFTER": "1h", "SWEEP_INTERVAL": "1h", "LOG_LEVEL": "info"},
	})
	// The worker sweeps and reconciles once as it starts: a reconciliation
	// still running when the buyer pays would find the charge and confirm
	// the booking itself. Pay once both are done.
	s.waitLonger(time.Minute, "the worker's first sweep and reconciliation end", func() bool {
		ended := map[string]bool{}
		for _, sp := range exp.GetSpans() {
			ended[sp.Name] = true
		}
		return ended["process payments:reconcile"] && ended["process bookings:sweep"]
	})
	s.sim.SetFaults(paystacksim.Faults{WebhookTiming: paystacksim.TimingBeforeRedirect})
	_, token, b, ref := s.checkout(10, 2)
	s.pay(ref, paystacksim.OutcomeSuccess)
	s.waitStatus(b, "confirmed")

	// The consumer span of the run that confirmed the booking ends once
	// the task's handler returns, just after the confirmation commits. (A
	// retried run, or one a redelivered webhook starts, finds the booking
	// confirmed and writes nothing: the confirming run is the one to
	// follow.)
	var consumer tracetest.SpanStub
	defer func() {
		if t.Failed() {
			for _, sp := range exp.GetSpans() {
				t.Logf("span %s %s parent %s", sp.Name, sp.SpanContext.SpanID(), sp.Parent.SpanID())
			}
		}
	}()
	s.waitLonger(time.Minute, "the span of the payment:verify run that confirmed the booking ends", func() bool {
		spans := exp.GetSpans()
		tree := treeOf(spans)
		for _, sp := range spans {
			if sp.Name != "process payment:verify" {
				continue
			}
			for _, child := range spans {
				if confirmsBooking(child) && tree.under(child, sp.SpanContext.SpanID()) {
					consumer = sp
					return true
				}
			}
		}
		return false
	})
	spans := exp.GetSpans()
	tree := treeOf(spans)
	producer, ok := tree[consumer.Parent.SpanID()]
	if !ok || producer.Name != "enqueue payment:verify" || producer.SpanKind != trace.SpanKindProducer {
		t.Fatalf("the task's parent is %q (%v), want the producer span", producer.Name, producer.SpanKind)
	}
	webhook, ok := tree[producer.Parent.SpanID()]
	if !ok || webhook.Name != "POST /v1/webhooks/paystack" || webhook.SpanKind != trace.SpanKindServer {
		t.Fatalf("the producer's parent is %q, want the webhook's server span", webhook.Name)
	}
	if st, _ := attrValue(webhook.Attributes, "http.response.status_code"); st != "200" || webhook.Parent.IsValid() {
		t.Fatalf("webhook span: status %s, parent %s", st, webhook.Parent.SpanID())
	}
	traceID := webhook.SpanContext.TraceID()
	if producer.SpanContext.TraceID() != traceID || consumer.SpanContext.TraceID() != traceID {
		t.Fatal("the producer or the consumer is in another trace")
	}
	if tenant, _ := attrValue(consumer.Attributes, "ticketd.tenant"); tenant != s.tenant.ID {
		t.Errorf("consumer tenant %q, want %s", tenant, s.tenant.ID)
	}

	// Under the task: the SQL that confirms the booking, the Redis
	// commands, the call to Paystack.
	var confirm, redisSpans, paystackSpans int
	for _, sp := range spans {
		if sp.SpanContext.TraceID() != traceID || !tree.under(sp, consumer.SpanContext.SpanID()) {
			continue
		}
		if confirmsBooking(sp) {
			confirm++
			if q, _ := attrValue(sp.Attributes, "db.query.text"); !strings.Contains(q, "$1") {
				t.Errorf("the confirming SQL has no placeholders: %s", q)
			}
		}
		if sys, _ := attrValue(sp.Attributes, "db.system"); sys == "redis" {
			redisSpans++
		}
		if sp.Name == "paystack GET /transaction/verify/{reference}" && sp.SpanKind == trace.SpanKindClient {
			paystackSpans++
		}
	}
	if confirm != 1 || redisSpans == 0 || paystackSpans == 0 {
		t.Errorf("under the task: %d confirming SQL spans (want 1), %d Redis spans, %d Paystack verify spans", confirm, redisSpans, paystackSpans)
	}

	// The booking's insert was group-committed: in a span of its own,
	// linked to the request's, with the SQL (a pgx batch) under it.
	var booked tracetest.SpanStub
	for _, sp := range spans {
		if sp.Name == "POST /v1/bookings" {
			booked = sp
		}
	}
	commits := 0
	for _, sp := range spans {
		if sp.Name != "booking group commit" || len(sp.Links) == 0 || !sp.Links[0].SpanContext.Equal(booked.SpanContext) {
			continue
		}
		for _, q := range spans {
			if text, _ := attrValue(q.Attributes, "db.query.text"); tree.under(q, sp.SpanContext.SpanID()) && strings.Contains(text, "INSERT INTO bookings") {
				commits++
			}
		}
	}
	if commits == 0 {
		t.Errorf("no group commit linked to the booking request %s with its INSERT under it", booked.SpanContext.SpanID())
	}

	// Nothing a span holds is a value bound to SQL, a credential or the
	// buyer's personal data.
	secrets := []string{"ada@example.com", "buyer-pass-123", testPaystackKey, token, testJWTSecret, "Bearer "}
	check := func(where string, attrs []attribute.KeyValue) {
		for _, a := range attrs {
			k := strings.ToLower(string(a.Key))
			if strings.Contains(k, "authorization") || strings.Contains(k, "header") || k == "pgx.query.parameters" || k == "db.statement" {
				t.Errorf("%s records %s", where, a.Key)
			}
			for _, secret := range secrets {
				if strings.Contains(a.Value.Emit(), secret) {
					t.Errorf("%s: %s holds %q", where, a.Key, secret)
				}
			}
		}
	}
	for _, sp := range spans {
		check(sp.Name, sp.Attributes)
		for _, e := range sp.Events {
			check(sp.Name+" event "+e.Name, e.Attributes)
		}
		for _, l := range sp.Links {
			check(sp.Name+" link", l.Attributes)
		}
	}

	// The webhook's request log line leads to its span.
	found := false
	for _, l := range strings.Split(log.String(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) != nil || line["msg"] != "request" || line["route"] != "/v1/webhooks/paystack" {
			continue
		}
		found = true
		if line["level"] != "INFO" || line["reference"] != ref || line["trace_id"] != traceID.String() || line["span_id"] != webhook.SpanContext.SpanID().String() {
			t.Errorf("webhook logged as %s", l)
		}
	}
	if !found {
		t.Errorf("no request line of the webhook")
	}

	// The webhook's latency observation links to its trace: an exemplar
	// in the OpenMetrics scrape that Prometheus asks for.
	req, _ := http.NewRequest("GET", s.api+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	scrape, _ := io.ReadAll(resp.Body)
	exemplar := false
	for _, l := range strings.Split(string(scrape), "\n") {
		if strings.HasPrefix(l, "http_request_duration_seconds_bucket{") && strings.Contains(l, `route="/v1/webhooks/paystack"`) &&
			strings.Contains(l, `# {trace_id="`+traceID.String()+`"}`) {
			exemplar = true
		}
	}
	if !exemplar {
		t.Errorf("no exemplar with the webhook's trace id on http_request_duration_seconds:\n%s", scrape)
	}
}

// TestTracesReachTheOTLPEndpointOfTheEnvironment runs `ticketd serve`
// configured by the OTEL_* variables alone against a real OTLP/HTTP
// receiver: a request's spans arrive, flushed at shutdown, with the
// service's name and resource attributes, the exporter's headers reach the
// receiver, and the start says where spans go without the headers' values.
func TestTracesReachTheOTLPEndpointOfTheEnvironment(t *testing.T) {
	t.Parallel()
	sink := otlpsink.New(true)
	collector := httptest.NewServer(sink)
	t.Cleanup(collector.Close)
	db := pgtest.New(t)
	addr := freeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	vars := map[string]string{
		"DATABASE_URL": db.AppURL, "REDIS_URL": redistest.URL(), "PLATFORM_API_KEY": "test-platform-key-0123456789",
		"JWT_SECRET": testJWTSecret, "TICKET_SIGNING_SECRET": testJWTSecret, "WAITING_ROOM_SECRET": testJWTSecret, "BIND_ADDR": "127.0.0.1", "PORT": port, "DRAIN_DELAY": "0s",
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=sup3r-s3cret-key",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test,team=box%20office",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &telemetrytest.LogBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), out) }()
	api := "http://127.0.0.1:" + port
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(api + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 60s:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", api+"/v1/health", nil)
	req.Header.Set("X-Tenant", "nobody")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("traceparent"), "00-") {
		t.Fatalf("GET /v1/health: %d, traceparent %q", res.StatusCode, res.Header.Get("traceparent"))
	}
	traceID := strings.Split(res.Header.Get("traceparent"), "-")[1]
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s")
	}

	var server *otlpsink.Span
	spans := sink.Spans()
	for i, sp := range spans {
		if sp.Name == "GET /v1/health" && sp.TraceID == traceID {
			server = &spans[i]
		}
	}
	if server == nil {
		t.Fatalf("the request's span did not arrive; got %d spans", len(spans))
	}
	for k, want := range map[string]string{"service.name": "ticketd-api", "service.version": version,
		"deployment.environment.name": "test", "team": "box office"} {
		if got := server.Resource[k]; got != want {
			t.Errorf("resource %s = %q, want %q", k, got, want)
		}
	}
	sql := 0
	for _, sp := range spans {
		if sp.TraceID == traceID && sp.ParentSpanID == server.SpanID && sp.Attributes["db.system.name"] == "postgresql" {
			sql++
		}
	}
	if sql == 0 {
		t.Errorf("no SQL span under the request (the tenant lookup)")
	}
	if h := sink.Headers(); len(h) == 0 || h[0].Get("x-api-key") != "sup3r-s3cret-key" {
		t.Errorf("the exporter's headers did not arrive: %v", h)
	}
	log := out.String()
	if strings.Contains(log, "sup3r-s3cret-key") {
		t.Errorf("the log holds the exporter's header value")
	}
	tracing := ""
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"tracing"`) {
			tracing = sc.Text()
		}
	}
	for _, want := range []string{`"enabled":true`, fmt.Sprintf(`"endpoint":"%s/v1/traces"`, collector.URL), `"headers":["x-api-key"]`, `"serviceName":"ticketd-api"`} {
		if !strings.Contains(tracing, want) {
			t.Errorf("the tracing line lacks %s: %s", want, tracing)
		}
	}
}

// TestTracingOffSaysSo: without an endpoint the start says tracing is off.
func TestTracingOffSaysSo(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	out := &telemetrytest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	listening, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, serveConfig(t, db, map[string]string{"LOG_LEVEL": "info"}), out, listening) }()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"msg":"tracing","tracing":{"enabled":false}`) {
		t.Fatalf("no word of tracing being off:\n%s", out.String())
	}
}
