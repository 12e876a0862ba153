package httpapi

import (
	"context"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// The console's pages of bookings, payments, refunds, the review queue and
// accounts (ADMIN). They read what the JSON API would answer; every change
// is made by their script (console-bookings.js) through the JSON API.

// consolePageSize is how many rows a console listing shows a page.
const consolePageSize = 50

// buyerSearchUsers bounds the accounts a buyer search looks at: a search
// that matches more is narrowed by typing more of the address.
const buyerSearchUsers = 20

type consoleBookings struct {
	Events   []eventResponse
	Statuses []string
	EventID  string
	Status   string
	Buyer    string
	Bookings []bookingResponse
	Next     string
	// More: the buyer search matched more accounts than it looked at.
	More bool
}

// consoleBookings lists the organizer's bookings, filtered by event and
// status, and searched by the buyer's email: the search finds the accounts
// whose address contains it (as GET /v1/users?email= does) and lists
// their bookings.
func (s *Server) consoleBookings(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	page.Limit = consolePageSize
	data := consoleBookings{EventID: strings.Clone(c.Query("event")), Buyer: strings.TrimSpace(strings.Clone(c.Query("buyer"))),
		Statuses: []string{"pending", "confirmed", "review", "refunded", "cancelled", "expired", "failed"}}
	f := ticketing.BookingFilter{EventID: data.EventID, Page: page}
	var p ticketing.Problems
	p.Addf(f.EventID != "" && !ticketing.ValidID(f.EventID), "the event is not an event id")
	p.Addf(len(data.Buyer) > 200, "the buyer search is at most 200 characters")
	if st := c.Query("status"); st != "" {
		status := ticketing.BookingStatus(strings.Clone(st))
		p.Addf(!status.Valid(), "the status is not a booking status")
		f.Status, data.Status = &status, string(status)
	}
	if err := p.Err(); err != nil {
		return err
	}
	if data.Events, err = s.consoleEvents(c); err != nil {
		return err
	}
	var bookings []*ticketing.Booking
	if data.Buyer == "" {
		bookings, data.Next, err = s.deps.Bookings.FindBookings(c.UserContext(), f)
	} else {
		bookings, data.More, err = s.buyerBookings(c, f)
	}
	if err != nil {
		return err
	}
	for _, b := range bookings {
		data.Bookings = append(data.Bookings, toStaffBookingResponse(b))
	}
	return s.shopPage(c, fiber.StatusOK, "Bookings", "admin_bookings", data)
}

// buyerBookings is the first page of bookings of f made by the accounts
// whose email contains the search, newest first; more reports that more
// accounts matched than were looked at.
func (s *Server) buyerBookings(c *fiber.Ctx, f ticketing.BookingFilter) ([]*ticketing.Booking, bool, error) {
	ctx := c.UserContext()
	users, next, err := s.deps.Users.FindUsers(ctx, ticketing.UserFilter{Email: strings.Clone(c.Query("buyer")),
		Page: ticketing.Page{Limit: buyerSearchUsers}})
	if err != nil {
		return nil, false, err
	}
	var out []*ticketing.Booking
	for _, u := range users {
		uf := f
		uf.UserID, uf.Page = u.ID, ticketing.Page{Limit: consolePageSize}
		bookings, _, err := s.deps.Bookings.FindBookings(ctx, uf)
		if err != nil {
			return nil, false, err
		}
		out = append(out, bookings...)
	}
	slices.SortFunc(out, func(a, b *ticketing.Booking) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out[:min(len(out), consolePageSize)], next != "", nil
}

type consoleBooking struct {
	Booking  bookingResponse
	Payments []paymentResponse
	Refunds  []refundResponse
	// Refundable is what is left to refund of the payment that confirmed
	// the booking: what it paid less the refunds that did not fail.
	Refundable int64
	// Under review: the booking's tickets that are valid (a restore keeps
	// them) and all of them, and what a restore would refund (the charges
	// that did not confirm it); a close refunds Refundable.
	ValidTickets, Tickets int
	RestoreRefunds        int64
}

// consoleBooking is one booking with its payments and refunds, and the
// forms that verify, refund, retry and review it.
func (s *Server) consoleBooking(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	b, err := s.deps.Bookings.FindBookingByID(ctx, id)
	if err != nil {
		return err
	}
	data := consoleBooking{Booking: toStaffBookingResponse(b)}
	payments, _, err := s.deps.Payments.FindPayments(ctx, ticketing.PaymentFilter{BookingID: id, Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return err
	}
	for _, p := range payments {
		data.Payments = append(data.Payments, toPaymentResponse(p))
		if p.Status == ticketing.PaymentSuccess {
			data.Refundable += p.PaidAmount
		}
	}
	refunds, _, err := s.deps.Refunds.BookingRefunds(ctx, id, ticketing.Page{Limit: ticketing.MaxPageSize})
	if err != nil {
		return err
	}
	for _, r := range refunds {
		data.Refunds = append(data.Refunds, toRefundResponse(r))
		if r.Status != ticketing.RefundFailed {
			data.Refundable -= r.Amount
		}
	}
	data.Refundable = max(data.Refundable, 0)
	if b.Status == ticketing.BookingReview {
		if err := s.reviewFacts(ctx, &data, payments, refunds); err != nil {
			return err
		}
	}
	return s.shopPage(c, fiber.StatusOK, "Booking", "admin_booking", data)
}

// reviewFacts tells what each decision about a booking under review would
// do, as POST /v1/bookings/{id}/resolve decides it.
func (s *Server) reviewFacts(ctx context.Context, data *consoleBooking, payments []*ticketing.Payment, refunds []*ticketing.Refund) error {
	tickets, _, err := s.deps.Tickets.FindTickets(ctx, ticketing.TicketFilter{BookingID: data.Booking.ID,
		Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return err
	}
	data.Tickets = len(tickets)
	for _, t := range tickets {
		if t.Status != ticketing.TicketVoid {
			data.ValidTickets++
		}
	}
	left := map[string]int64{}
	for _, p := range payments {
		if p.Status.Settled() && p.Outcome != "" {
			left[p.ID] = p.PaidAmount
		}
	}
	for _, r := range refunds {
		if _, ok := left[r.PaymentID]; ok && r.Status != ticketing.RefundFailed {
			left[r.PaymentID] -= r.Amount
		}
	}
	for _, v := range left {
		data.RestoreRefunds += max(v, 0)
	}
	return nil
}

// consoleReview is the queue of what needs a person: bookings under
// review and refunds that failed.
func (s *Server) consoleReview(c *fiber.Ctx) error {
	ctx := c.UserContext()
	review := ticketing.BookingReview
	bookings, next, err := s.deps.Bookings.FindBookings(ctx, ticketing.BookingFilter{Status: &review, Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return err
	}
	refunds, moreRefunds, err := s.deps.Refunds.FindRefunds(ctx, ticketing.RefundFilter{Status: ticketing.RefundFailed, Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return err
	}
	data := struct {
		Bookings []bookingResponse
		Refunds  []refundResponse
		More     bool
	}{More: next != "" || moreRefunds != ""}
	for _, b := range bookings {
		data.Bookings = append(data.Bookings, toStaffBookingResponse(b))
	}
	for _, r := range refunds {
		data.Refunds = append(data.Refunds, toRefundResponse(r))
	}
	return s.shopPage(c, fiber.StatusOK, "Review queue", "admin_review", data)
}

// consoleUsers lists the organizer's accounts, a page at a time, with
// their roles to change.
func (s *Server) consoleUsers(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	page.Limit = consolePageSize
	email := strings.TrimSpace(strings.Clone(c.Query("email")))
	if len(email) > 200 {
		return invalid("the search is at most 200 characters")
	}
	users, next, err := s.deps.Users.FindUsers(c.UserContext(), ticketing.UserFilter{Email: email, Page: page})
	if err != nil {
		return err
	}
	data := struct {
		Email string
		Users []userResponse
		Roles []string
		Next  string
	}{Email: email, Next: next, Roles: []string{string(ticketing.RoleUser), string(ticketing.RoleCheckin), string(ticketing.RoleAdmin)}}
	for _, u := range users {
		data.Users = append(data.Users, toUserResponse(u))
	}
	return s.shopPage(c, fiber.StatusOK, "Accounts", "admin_users", data)
}
