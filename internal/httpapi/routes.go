package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/authz"
)

// scope decides which middleware a route gets before its handler.
type scope int

const (
	// scopeSystem routes need no tenant and no credentials: probes, metrics,
	// the API documentation, and Paystack's redirect and webhook.
	scopeSystem scope = iota
	// scopePlatform routes are the operators' API: platform API key, no tenant.
	scopePlatform
	// scopeTenant routes run for the tenant resolved from the host or the
	// X-Tenant header.
	scopeTenant
	// scopePage routes are the organizer's shop (storefront.go): as
	// scopeTenant, but their errors are answered with a page.
	scopePage
)

// route is one line of the route table.
type route struct {
	method  string
	path    string
	scope   scope
	handler fiber.Handler
}

// routes is every route of the API, in one table.
func (s *Server) routes() []route {
	return []route{
		{fiber.MethodGet, "/healthz", scopeSystem, s.healthz},
		{fiber.MethodGet, "/readyz", scopeSystem, s.readyz},
		{fiber.MethodGet, "/metrics", scopeSystem, s.metrics()},
		{fiber.MethodGet, "/api/openapi.json", scopeSystem, s.openAPI},
		{fiber.MethodGet, "/api/docs", scopeSystem, s.apiDocs},
		{fiber.MethodGet, "/api/docs/assets/:version/:name", scopeSystem, s.docsAsset},
		// Paystack's redirect and webhook name no tenant: the payment
		// reference routes them.
		{fiber.MethodGet, "/v1/payments/callback", scopeSystem, s.paymentCallback},
		{fiber.MethodPost, "/v1/webhooks/paystack", scopeSystem, s.paystackWebhook()},

		{fiber.MethodPost, "/v1/platform/tenants", scopePlatform, s.createTenant},
		{fiber.MethodGet, "/v1/platform/tenants", scopePlatform, s.listTenants},
		{fiber.MethodGet, "/v1/platform/tenants/:id", scopePlatform, s.getTenant},
		{fiber.MethodPatch, "/v1/platform/tenants/:id", scopePlatform, s.updateTenant},
		{fiber.MethodPost, "/v1/platform/tenants/:id/domains", scopePlatform, s.addTenantDomain},
		{fiber.MethodDelete, "/v1/platform/tenants/:id/domains/:domain", scopePlatform, s.removeTenantDomain},

		{fiber.MethodGet, "/v1/health", scopeTenant, s.tenantHealth},
		{fiber.MethodGet, "/v1/settings", scopeTenant, s.getSettings},
		{fiber.MethodPatch, "/v1/settings", scopeTenant, s.updateSettings},
		{fiber.MethodPost, "/v1/auth/signup", scopeTenant, s.signup},
		{fiber.MethodPost, "/v1/auth/signin", scopeTenant, s.signin},
		{fiber.MethodPost, "/v1/auth/refresh", scopeTenant, s.refresh},
		{fiber.MethodPost, "/v1/auth/signout", scopeTenant, s.signout},
		{fiber.MethodGet, "/v1/me", scopeTenant, s.getMe},
		{fiber.MethodPatch, "/v1/me", scopeTenant, s.updateMe},
		{fiber.MethodGet, "/v1/users", scopeTenant, s.listUsers},
		{fiber.MethodGet, "/v1/users/:id", scopeTenant, s.getUser},
		{fiber.MethodPatch, "/v1/users/:id", scopeTenant, s.updateUser},

		{fiber.MethodPost, "/v1/venues", scopeTenant, s.createVenue},
		{fiber.MethodGet, "/v1/venues", scopeTenant, s.listVenues},
		{fiber.MethodGet, "/v1/venues/:id", scopeTenant, s.getVenue},
		{fiber.MethodPatch, "/v1/venues/:id", scopeTenant, s.updateVenue},
		{fiber.MethodDelete, "/v1/venues/:id", scopeTenant, s.deleteVenue},

		{fiber.MethodGet, "/v1/events", scopeTenant, s.listEvents},
		{fiber.MethodPost, "/v1/events", scopeTenant, s.createEvent},
		{fiber.MethodGet, "/v1/events/:id", scopeTenant, s.getEvent},
		{fiber.MethodPatch, "/v1/events/:id", scopeTenant, s.updateEvent},
		{fiber.MethodDelete, "/v1/events/:id", scopeTenant, s.eventAction(s.deps.Events.DeleteEvent)},
		{fiber.MethodPost, "/v1/events/:id/publish", scopeTenant, s.eventAction(s.deps.Events.PublishEvent)},
		{fiber.MethodPost, "/v1/events/:id/cancel", scopeTenant, s.eventAction(s.cancelEvent)},
		{fiber.MethodGet, "/v1/events/:id/refunds", scopeTenant, s.eventRefunds},
		{fiber.MethodPost, "/v1/events/:id/restore", scopeTenant, s.eventAction(s.deps.Events.RestoreEvent)},
		{fiber.MethodGet, "/v1/events/:id/ticket-types", scopeTenant, s.listTicketTypes},
		{fiber.MethodPost, "/v1/events/:id/ticket-types", scopeTenant, s.createTicketType},
		{fiber.MethodPatch, "/v1/ticket-types/:id", scopeTenant, s.updateTicketType},
		{fiber.MethodDelete, "/v1/ticket-types/:id", scopeTenant, s.deleteTicketType},
		{fiber.MethodGet, "/v1/events/:id/availability", scopeTenant, s.availability},
		{fiber.MethodGet, "/v1/events/:id/seats", scopeTenant, s.seatMap},
		{fiber.MethodPut, "/v1/events/:id/waiting-room", scopeTenant, s.putWaitingRoom},
		{fiber.MethodDelete, "/v1/events/:id/waiting-room", scopeTenant, s.deleteWaitingRoom},
		{fiber.MethodGet, "/v1/events/:id/waiting-room", scopeTenant, s.getWaitingRoom},
		{fiber.MethodPost, "/v1/events/:id/waiting-room", scopeTenant, s.joinWaitingRoom},
		{fiber.MethodGet, "/v1/events/:id/waiting-room/events", scopeTenant, s.waitingRoomEvents},

		{fiber.MethodPost, "/v1/bookings", scopeTenant, s.createBooking},
		{fiber.MethodGet, "/v1/bookings", scopeTenant, s.listBookings},
		{fiber.MethodGet, "/v1/bookings/:id", scopeTenant, s.getBooking},
		{fiber.MethodPost, "/v1/bookings/:id/cancel", scopeTenant, s.cancelBooking},
		{fiber.MethodPost, "/v1/bookings/:id/payments", scopeTenant, s.startPayment},
		{fiber.MethodPost, "/v1/bookings/:id/review", scopeTenant, s.reviewBooking},
		{fiber.MethodPost, "/v1/bookings/:id/resolve", scopeTenant, s.resolveReview},
		{fiber.MethodGet, "/v1/payments", scopeTenant, s.listPayments},
		{fiber.MethodPost, "/v1/payments/:reference/verify", scopeTenant, s.verifyPayment},

		{fiber.MethodGet, "/v1/bookings/:id/tickets.pdf", scopeTenant, s.bookingTicketsPDF},
		{fiber.MethodGet, "/v1/tickets", scopeTenant, s.listTickets},
		{fiber.MethodGet, "/v1/tickets/:id", scopeTenant, s.getTicket},
		{fiber.MethodPatch, "/v1/tickets/:id", scopeTenant, s.updateTicket},
		{fiber.MethodPost, "/v1/tickets/:id/transfer", scopeTenant, s.transferTicket},
		{fiber.MethodGet, "/v1/tickets/:id/qr.png", scopeTenant, s.ticketQR},
		{fiber.MethodGet, "/v1/checkin-keys", scopeTenant, s.checkinKeys},
		{fiber.MethodPost, "/v1/checkin-keys/rotate", scopeTenant, s.rotateCheckinKey},
		{fiber.MethodPost, "/v1/checkins", scopeTenant, s.checkIn},
		{fiber.MethodPost, "/v1/checkins/batch", scopeTenant, s.checkInBatch},
		{fiber.MethodGet, "/v1/events/:id/checkin-list", scopeTenant, s.checkinList},
		{fiber.MethodGet, "/v1/events/:id/checkins", scopeTenant, s.checkinStats},
		{fiber.MethodPost, "/v1/bookings/:id/refunds", scopeTenant, s.requestRefund},
		{fiber.MethodGet, "/v1/bookings/:id/refunds", scopeTenant, s.bookingRefunds},
		{fiber.MethodGet, "/v1/refunds", scopeTenant, s.listRefunds},
		{fiber.MethodPost, "/v1/refunds/:id/retry", scopeTenant, s.retryRefund},

		// The organizer's shop: pages, not API operations (not in the
		// OpenAPI document).
		{fiber.MethodGet, "/", scopePage, s.shopHome},
		{fiber.MethodGet, "/events/:id", scopePage, s.shopEvent},
		{fiber.MethodGet, "/signin", scopePage, s.shopAuth("signin", "Sign in")},
		{fiber.MethodGet, "/signup", scopePage, s.shopAuth("signup", "Create an account")},
		{fiber.MethodGet, "/checkout/:id", scopePage, s.shopCheckout},
		{fiber.MethodGet, "/bookings/:id", scopePage, s.shopBooking},
		{fiber.MethodGet, "/tickets", scopePage, s.shopTickets},
		{fiber.MethodGet, "/embed/events/:id", scopePage, s.shopEmbed},
		{fiber.MethodGet, "/widget.js", scopePage, s.shopWidget},
		{fiber.MethodGet, "/theme.css", scopePage, s.shopTheme},
		{fiber.MethodGet, "/assets/shop/:version/:name", scopePage, s.shopAsset},
		{fiber.MethodGet, "/admin", scopePage, s.consoleHome},
		{fiber.MethodGet, "/admin/events/new", scopePage, s.consoleEvent},
		{fiber.MethodGet, "/admin/events/:id", scopePage, s.consoleEvent},
		{fiber.MethodGet, "/admin/checkin", scopePage, s.consoleCheckin},
		{fiber.MethodGet, "/admin/bookings", scopePage, s.consoleBookings},
		{fiber.MethodGet, "/admin/bookings/:id", scopePage, s.consoleBooking},
		{fiber.MethodGet, "/admin/review", scopePage, s.consoleReview},
		{fiber.MethodGet, "/admin/users", scopePage, s.consoleUsers},
		{fiber.MethodGet, "/admin/venues", scopePage, s.consoleVenues},
		{fiber.MethodGet, "/admin/venues/new", scopePage, s.consoleVenue},
		{fiber.MethodGet, "/admin/venues/:id", scopePage, s.consoleVenue},
	}
}

// register adds every route with the middleware of its scope, after
// checking that the authorization policy decides each one. The policy is
// checked against the whole table, so /metrics keeps its decision when
// another listener serves it.
func (s *Server) register() error {
	routes := s.routes()
	decided := make([]authz.Route, 0, len(routes))
	for _, r := range routes {
		decided = append(decided, authz.Route{Path: r.path, Method: r.method})
	}
	if err := s.deps.Authz.CheckCoverage(decided); err != nil {
		return err
	}
	for _, r := range routes {
		if r.path == "/metrics" && s.cfg.MetricsElsewhere {
			continue
		}
		chain := []fiber.Handler{markRoute(r)}
		switch r.scope {
		case scopePlatform:
			chain = append(chain, s.requirePlatformKey)
		case scopeTenant, scopePage:
			chain = append(chain, s.resolveTenant, s.authenticate)
		}
		chain = append(chain, s.authorize, r.handler)
		s.app.Add(r.method, r.path, chain...)
	}
	return nil
}
