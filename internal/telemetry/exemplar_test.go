package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/telemetry"
)

// TestObserveInTraceLeavesAnExemplar: an observation inside a sampled span
// carries its trace id to an OpenMetrics scrape; one outside a span, or in
// a span that is not sampled, carries none.
func TestObserveInTraceLeavesAnExemplar(t *testing.T) {
	m := telemetry.New("test")
	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	span := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: traceID, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: flags}))
	}
	telemetry.ObserveInTrace(span(trace.FlagsSampled), m.HTTPDuration.WithLabelValues("GET", "/sampled"), 0.003)
	telemetry.ObserveInTrace(span(0), m.HTTPDuration.WithLabelValues("GET", "/unsampled"), 0.003)
	telemetry.ObserveInTrace(context.Background(), m.HTTPDuration.WithLabelValues("GET", "/untraced"), 0.003)

	scrape := func(accept string) string {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("scrape: %d", rec.Code)
		}
		body, _ := io.ReadAll(rec.Body)
		return string(body)
	}
	exemplars := map[string]int{}
	for _, l := range strings.Split(scrape("application/openmetrics-text; version=1.0.0"), "\n") {
		if !strings.HasPrefix(l, "http_request_duration_seconds_bucket{") || !strings.Contains(l, " # {") {
			continue
		}
		for _, route := range []string{"/sampled", "/unsampled", "/untraced"} {
			if strings.Contains(l, `route="`+route+`"`) {
				exemplars[route]++
				if !strings.Contains(l, `# {trace_id="`+traceID.String()+`"} 0.003`) {
					t.Errorf("exemplar without the trace id: %s", l)
				}
			}
		}
	}
	if exemplars["/sampled"] != 1 || exemplars["/unsampled"] != 0 || exemplars["/untraced"] != 0 {
		t.Errorf("exemplars by route: %v, want one for /sampled only", exemplars)
	}
	// Prometheus's classic text format has no exemplars: a scraper that
	// does not ask for OpenMetrics gets the same metrics without them.
	if text := scrape("text/plain"); strings.Contains(text, "trace_id") || !strings.Contains(text, `route="/sampled"`) {
		t.Errorf("the text format holds exemplars or lacks the series")
	}
}
