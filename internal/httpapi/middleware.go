package httpapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Fiber locals set by the middleware.
const (
	localRequestID = "requestId"
	localRoute     = "route"
	localScope     = "scope"
	// localReference is the payment reference a webhook or a buyer's
	// return names, for the request log.
	localReference = "reference"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID adopts a well-formed X-Request-ID from a trusted proxy, else
// makes one, and carries it in the response, the locals and the request's
// context. Clients cannot choose it: it lands in the audit log.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(HeaderRequestID)
	if c.IsProxyTrusted() && requestIDPattern.MatchString(id) {
		id = utils.CopyString(id)
	} else {
		id = ticketing.NewID()
	}
	c.Locals(localRequestID, id)
	c.Set(HeaderRequestID, id)
	c.SetUserContext(ticketing.WithRequestID(c.UserContext(), id))
	return c.Next()
}

// closeWhenDraining asks the client to close the connection after the
// response once the server drains (see Drain).
func (s *Server) closeWhenDraining(c *fiber.Ctx) error {
	if s.draining.Load() {
		c.Context().SetConnectionClose()
	}
	return c.Next()
}

func requestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// routeOf is the matched route pattern, or "unmatched": a bounded label for
// metrics and logs that never carries ids from the path.
func routeOf(c *fiber.Ctx) string {
	if r, ok := c.Locals(localRoute).(string); ok {
		return r
	}
	return "unmatched"
}

// markRoute records the route pattern before the route's own middleware.
func markRoute(r route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(localRoute, r.path)
		c.Locals(localScope, r.scope)
		return c.Next()
	}
}

// accessLog writes one JSON line and the RED metrics per request. It renders
// errors itself (through handleError) so that the status it records is the
// one the client gets. It logs the route pattern, never the raw path, query
// string, headers or body, so no token, password or card number reaches
// the log.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	m := s.deps.Metrics
	m.HTTPInFlight.Inc()
	defer m.HTTPInFlight.Dec()

	if err := c.Next(); err != nil {
		if herr := s.handleError(c, err); herr != nil {
			c.Status(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	route := routeOf(c)
	method := methodLabel(c.Method())
	latency := time.Since(start)
	m.HTTPRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	telemetry.ObserveInTrace(c.UserContext(), m.HTTPDuration.WithLabelValues(method, route), latency.Seconds())

	level := slog.LevelInfo
	if sc, _ := c.Locals(localScope).(scope); sc == scopeSystem && status < 400 && !paymentRoutes[route] {
		level = slog.LevelDebug // probes and scrapes would drown the log
	}
	if !s.deps.Logger.Enabled(c.UserContext(), level) {
		return nil
	}
	tenant := ""
	if t := ticketing.TenantFromContext(c.UserContext()); t != nil {
		tenant = t.Slug
	}
	attrs := []slog.Attr{
		slog.String("requestId", requestIDOf(c)),
		slog.String("method", method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("latencyMs", float64(latency.Microseconds())/1000),
		slog.String("tenant", tenant),
	}
	if ref, _ := c.Locals(localReference).(string); ref != "" {
		attrs = append(attrs, slog.String("reference", ref))
	}
	s.deps.Logger.LogAttrs(c.UserContext(), level, "request", attrs...)
	return nil
}

// paymentRoutes are the system routes logged at info level whatever their
// status: Paystack's webhooks and the buyers' return from the checkout are
// payments on the move, which an operator follows, not probes.
var paymentRoutes = map[string]bool{"/v1/payments/callback": true, "/v1/webhooks/paystack": true}

// methodLabel maps a request method to a constant string: Fiber's own
// string aliases a buffer reused by the next request, and metric labels are
// kept forever. Unknown methods share one label, bounding cardinality.
func methodLabel(m string) string {
	for _, known := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
		fiber.MethodDelete, fiber.MethodOptions, fiber.MethodConnect, fiber.MethodTrace} {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

// recoverPanic turns a panic into an internal error carrying the stack, which
// handleError logs; the client gets the usual 500 body.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.Next()
}

// securityHeaders sets the headers every response carries. The API serves
// JSON only, so its content security policy allows nothing; the docs page
// sets its own.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "strict-origin-when-cross-origin")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
	if c.Protocol() == "https" {
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=63072000; includeSubDomains")
	}
	return c.Next()
}

// textHeaders are the headers whose values reach SQL (the tenant's host,
// the Idempotency-Key).
var textHeaders = []string{fiber.HeaderHost, fiber.HeaderXForwardedHost, HeaderTenant, HeaderIdempotencyKey}

// validText refuses with 400, before any handler, a request whose path,
// query parameters or text headers are not valid UTF-8 or hold a NUL:
// Postgres refuses such text, and it must not become a 500 (JSON bodies are
// checked by decodeJSON).
func validText(c *fiber.Ctx) error {
	uri := c.Request().URI()
	if !isText(uri.Path()) {
		return invalid("the path must be valid UTF-8 text without NUL characters")
	}
	var bad []byte
	uri.QueryArgs().VisitAll(func(k, v []byte) {
		if bad == nil && (!isText(k) || !isText(v)) {
			bad = append([]byte{}, k...)
		}
	})
	if bad != nil {
		return invalid("query parameter %q must be valid UTF-8 text without NUL characters", strings.ToValidUTF8(string(bad), "?"))
	}
	for _, h := range textHeaders {
		if !isText(c.Request().Header.Peek(h)) {
			return invalid("the %s header must be valid UTF-8 text without NUL characters", h)
		}
	}
	return c.Next()
}

// isText reports whether b is valid UTF-8 without NUL characters.
func isText(b []byte) bool { return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 }
