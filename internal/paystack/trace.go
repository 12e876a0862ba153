package paystack

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// WithTracing makes each request to Paystack (each attempt of it) a client
// span under the caller's span, named after the endpoint with no reference
// or id in the name ("paystack GET /transaction/verify/{reference}"). The
// span records the method, the URL and the answer's status, never a header,
// so the secret key in Authorization stays out of traces. The trace context
// is not sent to Paystack, a third party.
func WithTracing(tp trace.TracerProvider) Option {
	return func(c *Client) { c.tracing = tp }
}

// traced returns a copy of hc whose transport makes the spans.
func traced(hc *http.Client, tp trace.TracerProvider) *http.Client {
	out := *hc
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "paystack " + r.Method + " " + endpointOf(r.URL.Path)
		}))
	return &out
}

// endpointOf is the API path pattern of a request's path: the references
// and ids in paths become placeholders.
func endpointOf(path string) string {
	for _, p := range []struct{ prefix, pattern string }{
		{"/transaction/verify/", "/transaction/verify/{reference}"},
		{"/refund/", "/refund/{id}"},
	} {
		if strings.HasPrefix(path, p.prefix) && len(path) > len(p.prefix) {
			return p.pattern
		}
	}
	return path
}
