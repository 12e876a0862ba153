package httpapi

import (
	"bytes"
	"net"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/storefront"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// The hosted shop of every organizer, on its own host: pages rendered from
// the same views the JSON API answers with (internal/storefront), and a
// script that buys through the JSON API. Page routes have scopePage: the
// tenant is resolved and the access cookie read as for the API, and an
// error is answered with an HTML page instead of JSON.

// pageScripts are the scripts a page loads after the shop's own (asset
// names, in order): the console's pages load the console's.
var pageScripts = map[string][]string{
	"admin":          {"admin.js"},
	"admin_event":    {"admin.js"},
	"checkin":        {"jsQR.js", "admin.js"},
	"admin_bookings": {"console-bookings.js"},
	"admin_booking":  {"console-bookings.js"},
	"admin_review":   {"console-bookings.js"},
	"admin_users":    {"console-bookings.js"},
	"admin_venue":    {"console-venues.js"},
}

// shopPage renders page name with data for the request's tenant and visitor.
func (s *Server) shopPage(c *fiber.Ctx, status int, title, name string, data any) error {
	p := storefront.Page{Brand: brandOf(c), Title: title, Path: c.Path(), Data: data, Embed: name == "embed"}
	p.Scripts = pageScripts[name]
	if a, ok := ticketing.ActorFromContext(c.UserContext()); ok && a.UserID != "" {
		p.Viewer = &storefront.Viewer{UserID: a.UserID, Role: string(a.Role)}
	}
	if q := string(c.Request().URI().QueryString()); q != "" {
		p.Path += "?" + q
	}
	var buf bytes.Buffer
	if err := s.shop.Render(&buf, name, p); err != nil {
		return ticketing.Internal(err)
	}
	c.Set(fiber.HeaderContentSecurityPolicy, storefront.Policy(p.Brand))
	if p.Embed {
		c.Set(fiber.HeaderContentSecurityPolicy, storefront.EmbedPolicy(p.Brand))
		c.Response().Header.Del(fiber.HeaderXFrameOptions)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

func brandOf(c *fiber.Ctx) storefront.Brand {
	t := ticketing.TenantFromContext(c.UserContext())
	if t == nil {
		return storefront.Brand{Name: "ticketd"}
	}
	return storefront.Brand{Name: t.Name, LogoURL: t.LogoURL, AccentColor: t.AccentColor}
}

// signedIn sends a visitor who is not signed in to the sign-in page, which
// brings them back; it reports whether the page may go on.
func signedIn(c *fiber.Ctx) (bool, error) {
	if a, ok := ticketing.ActorFromContext(c.UserContext()); ok && a.UserID != "" {
		return true, nil
	}
	next := c.Path()
	if q := string(c.Request().URI().QueryString()); q != "" {
		next += "?" + q
	}
	return false, c.Redirect("/signin?next="+url.QueryEscape(next), fiber.StatusSeeOther)
}

// localNext is the page to go to after signing in: a path of this site.
func localNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) || len(next) > 2048 {
		return "/"
	}
	return next
}

type shopEvents struct {
	Query  string
	Events []eventResponse
	Next   string
}

// shopHome lists the organizer's upcoming events, with search.
func (s *Server) shopHome(c *fiber.Ctx) error {
	q := strings.TrimSpace(c.Query("q"))
	if len(q) > 200 {
		return invalid("the search is at most 200 characters")
	}
	f := ticketing.EventFilter{When: "upcoming", Query: strings.Clone(q),
		Page: ticketing.Page{Limit: 24, Cursor: strings.Clone(c.Query("cursor"))}}
	events, next, err := s.deps.Events.FindEvents(c.UserContext(), f)
	if err != nil {
		return err
	}
	data := shopEvents{Query: f.Query, Next: next}
	for _, e := range events {
		data.Events = append(data.Events, toEventResponse(e))
	}
	return s.shopPage(c, fiber.StatusOK, "Events", "events", data)
}

type shopEvent struct {
	Event  eventResponse
	GA     []ticketTypeResponse
	Seated []ticketTypeResponse
}

// shopEventOf reads the event of the path as buyers see it.
func (s *Server) shopEventOf(c *fiber.Ctx) (*ticketing.Event, error) {
	id, err := pathID(c, "event")
	if err != nil {
		return nil, err
	}
	return s.deps.Events.FindEventByID(c.UserContext(), id, false)
}

// shopEvent is an event's page: its ticket types, a quantity for each
// general-admission type and the seat map of the seated ones.
func (s *Server) shopEvent(c *fiber.Ctx) error {
	e, err := s.shopEventOf(c)
	if err != nil {
		return err
	}
	data := shopEvent{Event: toEventResponse(e)}
	for _, t := range data.Event.TicketTypes {
		if t.Kind == string(ticketing.Seated) {
			data.Seated = append(data.Seated, t)
		} else {
			data.GA = append(data.GA, t)
		}
	}
	return s.shopPage(c, fiber.StatusOK, e.Title, "event", data)
}

// shopEmbed is the widget's page: an event's ticket types with their
// prices and availability, and a link to buy in the shop.
func (s *Server) shopEmbed(c *fiber.Ctx) error {
	e, err := s.shopEventOf(c)
	if err != nil {
		return err
	}
	return s.shopPage(c, fiber.StatusOK, e.Title, "embed", struct {
		Event   eventResponse
		ShopURL string
	}{toEventResponse(e), "/events/" + e.ID})
}

// shopWidget is the script an organizer's own site loads to show the
// widget: at a path that does not change, so it is revalidated.
func (s *Server) shopWidget(c *fiber.Ctx) error {
	a, _ := s.shop.Asset("widget.js")
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderETag, a.ETag)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	if c.Get(fiber.HeaderIfNoneMatch) == a.ETag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(a.Body)
}

// shopAuth is the sign-in or sign-up page (page is "signin" or "signup").
func (s *Server) shopAuth(page, title string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		return s.shopPage(c, fiber.StatusOK, title, page, struct{ Next string }{localNext(c.Query("next"))})
	}
}

type shopBooking struct {
	Booking     bookingResponse
	Tickets     []ticketResponse
	Paying      bool
	Cancellable bool
}

// shopBookingOf reads the signed-in buyer's booking of the path, with the
// event's title, start and time zone.
func (s *Server) shopBookingOf(c *fiber.Ctx) (*shopBooking, *ticketing.Event, error) {
	id, err := pathID(c, "booking")
	if err != nil {
		return nil, nil, err
	}
	b, err := s.deps.Bookings.FindBookingByID(c.UserContext(), id)
	if err != nil {
		return nil, nil, err
	}
	out := &shopBooking{Booking: toBookingResponse(b)}
	e, err := s.deps.Events.FindEventByID(c.UserContext(), b.EventID, false)
	if ae := ticketing.AsError(err); err != nil && (ae == nil || ae.Kind != ticketing.KindNotFound) {
		return nil, nil, err
	}
	if e != nil {
		out.Booking.EventTitle = e.Title
		starts := e.StartsAt.UTC()
		out.Booking.EventStartsAt = &starts
		if e.Venue != nil {
			out.Booking.EventTimezone = e.Venue.Timezone
		}
	}
	return out, e, nil
}

// shopCheckout shows a pending booking with its hold's countdown and the
// button that opens Paystack's checkout.
func (s *Server) shopCheckout(c *fiber.Ctx) error {
	if ok, err := signedIn(c); !ok {
		return err
	}
	data, _, err := s.shopBookingOf(c)
	if err != nil {
		return err
	}
	return s.shopPage(c, fiber.StatusOK, "Checkout", "checkout", data)
}

// shopBooking is where a buyer lands after paying (the callback sends them
// here with ?payment=<status>) and where a booking's tickets are: it waits
// for the verification while the booking is pending, then shows the QR
// tickets, the PDF and, where the refund policy allows, cancellation.
func (s *Server) shopBooking(c *fiber.Ctx) error {
	if ok, err := signedIn(c); !ok {
		return err
	}
	data, e, err := s.shopBookingOf(c)
	if err != nil {
		return err
	}
	data.Paying = c.Query("payment") != ""
	if data.Booking.Status == string(ticketing.BookingConfirmed) {
		if data.Tickets, err = s.shopTicketsOf(c, data.Booking.ID); err != nil {
			return err
		}
		data.Cancellable = e != nil && e.RefundPolicy.BuyerCancellation
	}
	return s.shopPage(c, fiber.StatusOK, "Your booking", "booking", data)
}

// shopTicketsOf reads the tickets the visitor may see (of one booking, or
// all), up to a page's largest, as the API shows them.
func (s *Server) shopTicketsOf(c *fiber.Ctx, bookingID string) ([]ticketResponse, error) {
	tickets, _, err := s.deps.Tickets.FindTickets(c.UserContext(),
		ticketing.TicketFilter{BookingID: bookingID, Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return nil, err
	}
	v, err := s.ticketView(c)
	if err != nil {
		return nil, err
	}
	out := make([]ticketResponse, 0, len(tickets))
	for _, t := range tickets {
		r, err := v.response(t)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// shopTickets lists the buyer's tickets.
func (s *Server) shopTickets(c *fiber.Ctx) error {
	if ok, err := signedIn(c); !ok {
		return err
	}
	tickets, err := s.shopTicketsOf(c, "")
	if err != nil {
		return err
	}
	return s.shopPage(c, fiber.StatusOK, "My tickets", "tickets", struct{ Tickets []ticketResponse }{tickets})
}

// shopTheme is the organizer's accent colour as a stylesheet.
func (s *Server) shopTheme(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(storefront.Theme(brandOf(c)))
}

// shopAsset serves the shop's stylesheet and script under their version:
// cached for good, since a change makes a new path.
func (s *Server) shopAsset(c *fiber.Ctx) error {
	a, ok := s.shop.Asset(c.Params("name"))
	if !ok || c.Params("version") != s.shop.Version() {
		return ticketing.Errorf(ticketing.KindNotFound, ticketing.CodeNotFound, "no such file")
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderETag, a.ETag)
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	if c.Get(fiber.HeaderIfNoneMatch) == a.ETag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(a.Body)
}

// shopError answers a page's error with a page; a page that needs signing
// in sends the visitor to sign in.
func (s *Server) shopError(c *fiber.Ctx, status int, code string, messages []string) error {
	if status == fiber.StatusUnauthorized {
		_, err := signedIn(c)
		return err
	}
	title := "Something went wrong"
	switch {
	case status == fiber.StatusNotFound:
		title = "Not found"
	case status == fiber.StatusForbidden:
		title = "Not allowed"
	case status < 500:
		title = "That did not work"
	}
	msg := strings.Join(messages, " ")
	if status >= 500 {
		msg = "Please try again in a moment."
	}
	if ticketing.TenantFromContext(c.UserContext()) == nil && status == fiber.StatusNotFound {
		msg = "There is no shop at this address."
	}
	return s.shopPage(c, status, title, "error", struct{ Title, Message, Code string }{title, msg, code})
}

// storefrontURL is the organizer's shop, for a browser coming back from
// Paystack to the platform host: its first custom domain, else its host
// under the platform domain, on the scheme and port of the request.
func (s *Server) storefrontURL(c *fiber.Ctx, t *ticketing.Tenant) string {
	host := t.Slug + "." + s.cfg.PlatformDomain
	if len(t.Domains) > 0 {
		host = t.Domains[0]
	}
	if _, port, err := net.SplitHostPort(c.Hostname()); err == nil && port != "" {
		host = net.JoinHostPort(host, port)
	}
	return c.Protocol() + "://" + host
}

// The organizer console (/admin): ADMIN pages, and the check-in page for
// CHECKIN too (policies/policy.csv decides; a visitor who is not signed in
// is sent to sign in, another role gets a 403 page).

// consoleEvents lists the organizer's events for the console, drafts and
// cancelled ones too (the page reads their ticket types and stock itself).
func (s *Server) consoleEvents(c *fiber.Ctx) ([]eventResponse, error) {
	events, _, err := s.deps.Events.FindEvents(c.UserContext(), ticketing.EventFilter{Staff: true,
		Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return nil, err
	}
	out := make([]eventResponse, 0, len(events))
	for _, e := range events {
		out = append(out, toEventResponse(e))
	}
	return out, nil
}

// consoleHome is the console's first page: every event with its live
// sales.
func (s *Server) consoleHome(c *fiber.Ctx) error {
	events, err := s.consoleEvents(c)
	if err != nil {
		return err
	}
	return s.shopPage(c, fiber.StatusOK, "Console", "admin", struct{ Events []eventResponse }{events})
}

type consoleEvent struct {
	Event  *eventResponse
	Venues []venueResponse
}

// consoleEvent is the form of a new event, or of an event with its ticket
// types and its publishing.
func (s *Server) consoleEvent(c *fiber.Ctx) error {
	venues, _, err := s.deps.Venues.FindVenues(c.UserContext(), ticketing.Page{Limit: ticketing.MaxPageSize})
	if err != nil {
		return err
	}
	data := consoleEvent{}
	for _, v := range venues {
		data.Venues = append(data.Venues, toVenueResponse(v))
	}
	title := "New event"
	if c.Params("id") != "" {
		id, err := pathID(c, "event")
		if err != nil {
			return err
		}
		e, err := s.deps.Events.FindEventByID(c.UserContext(), id, true)
		if err != nil {
			return err
		}
		r := toEventResponse(e)
		data.Event, title = &r, e.Title
	}
	return s.shopPage(c, fiber.StatusOK, title, "admin_event", data)
}

// consoleCheckin is the door's scanner.
func (s *Server) consoleCheckin(c *fiber.Ctx) error {
	published := ticketing.EventPublished
	events, _, err := s.deps.Events.FindEvents(c.UserContext(), ticketing.EventFilter{When: "upcoming", Staff: true, Status: &published,
		Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return err
	}
	data := struct{ Events []eventResponse }{}
	for _, e := range events {
		data.Events = append(data.Events, toEventResponse(e))
	}
	return s.shopPage(c, fiber.StatusOK, "Check-in", "checkin", data)
}
