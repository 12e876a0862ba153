package httpapi

import (
	"context"
	"net/netip"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// instrumentation names the spans' origin.
const instrumentation = "github.com/ticketd-io/ticketd/internal/httpapi"

// Span attributes of requests, besides the HTTP conventions'.
const (
	attrRequestID  = attribute.Key("ticketd.request_id")
	attrTenantSlug = attribute.Key("ticketd.tenant.slug")
	attrUntrusted  = attribute.Key("ticketd.untrusted")
)

// untraced are the paths of probes and scrapes: a trace each every few
// seconds would bury the requests worth following.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// traceRequests runs each request in a server span named after its method
// and route pattern ("POST /v1/bookings"; never the path, which holds ids),
// with the tenant it ran for as an attribute. The caller's W3C traceparent
// and tracestate are continued only from a trusted proxy (TRUSTED_PROXIES,
// by the TCP peer's address): anyone else's request starts a new trace,
// linked to the one it named. Every traced response carries its
// traceparent, so a client can quote it.
func (s *Server) traceRequests(tp trace.TracerProvider) fiber.Handler {
	tracer := tp.Tracer(instrumentation)
	return func(c *fiber.Ctx) error {
		if untraced[c.Path()] {
			return c.Next()
		}
		method := methodLabel(c.Method())
		opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(method),
			semconv.URLScheme(utils.CopyString(c.Protocol())),
			semconv.URLPath(utils.CopyString(c.Path())),
			attrRequestID.String(requestIDOf(c)),
		)}
		ctx := c.UserContext()
		carrier := requestCarrier{c}
		if s.peerTrusted(c) {
			ctx = telemetry.Propagator.Extract(ctx, carrier)
		} else if named := trace.SpanContextFromContext(telemetry.Propagator.Extract(context.Background(), carrier)); named.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: named, Attributes: []attribute.KeyValue{attrUntrusted.Bool(true)}}))
		}
		ctx, span := tracer.Start(ctx, method, opts...)
		defer span.End()
		c.SetUserContext(ctx)
		telemetry.Propagator.Inject(ctx, responseCarrier{c})

		err := c.Next()
		status := c.Response().StatusCode()
		route := routeOf(c)
		if route != "unmatched" {
			span.SetName(method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if t := ticketing.TenantFromContext(c.UserContext()); t != nil {
			span.SetAttributes(telemetry.AttrTenant.String(t.ID), attrTenantSlug.String(t.Slug))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
		return err
	}
}

// peerTrusted reports whether the TCP peer of c is a trusted proxy.
func (s *Server) peerTrusted(c *fiber.Ctx) bool {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	return ok && s.trusted(peer.Unmap())
}

// tagTenant names the tenant on the request's span, for the routes that
// learn it from a payment reference rather than from the host.
func tagTenant(ctx context.Context, tenantID string) {
	trace.SpanFromContext(ctx).SetAttributes(telemetry.AttrTenant.String(tenantID))
}

// requestCarrier reads the trace context from a request's headers.
type requestCarrier struct{ c *fiber.Ctx }

func (r requestCarrier) Get(key string) string { return string(r.c.Request().Header.Peek(key)) }
func (r requestCarrier) Set(string, string)    {}
func (r requestCarrier) Keys() []string        { return []string{"traceparent", "tracestate"} }

// responseCarrier writes the trace context into a response's headers.
type responseCarrier struct{ c *fiber.Ctx }

func (r responseCarrier) Get(key string) string { return string(r.c.Response().Header.Peek(key)) }
func (r responseCarrier) Set(key, value string) { r.c.Set(key, value) }
func (r responseCarrier) Keys() []string        { return nil }
