package httpapi

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// The console's pages of bookings, payments, refunds, the review queue and
// accounts (ADMIN). They read what the JSON API would answer; every change
// is made by their script (console-bookings.js) through the JSON API.

// consolePageSize is how many rows a console listing shows a page.
const consolePageSize = 50

type consoleBookings struct {
	Events   []eventResponse
	Statuses []string
	EventID  string
	Status   string
	Buyer    string
	Bookings []bookingResponse
	Next     string
}

// consoleBookings lists the organizer's bookings, a page at a time,
// filtered by event and status, and searched by buyer as GET
// /v1/bookings?buyer= is (the buyer's email starts with it).
func (s *Server) consoleBookings(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	page.Limit = consolePageSize
	data := consoleBookings{EventID: strings.Clone(c.Query("event")), Buyer: strings.TrimSpace(strings.Clone(c.Query("buyer"))),
		Statuses: []string{"pending", "confirmed", "review", "refunded", "cancelled", "expired", "failed"}}
	f := ticketing.BookingFilter{EventID: data.EventID, Buyer: data.Buyer, Page: page}
	if st := c.Query("status"); st != "" {
		status := ticketing.BookingStatus(strings.Clone(st))
		f.Status, data.Status = &status, string(status)
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if data.Events, err = s.consoleEvents(c); err != nil {
		return err
	}
	bookings, next, err := s.deps.Bookings.FindBookings(c.UserContext(), f)
	if err != nil {
		return err
	}
	data.Next = next
	for _, b := range bookings {
		data.Bookings = append(data.Bookings, toStaffBookingResponse(b))
	}
	return s.shopPage(c, fiber.StatusOK, "Bookings", "admin_bookings", data)
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
