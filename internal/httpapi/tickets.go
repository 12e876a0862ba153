package httpapi

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/ticketpdf"
)

type ticketResponse struct {
	ID             string     `json:"id"`
	BookingID      string     `json:"bookingId"`
	EventID        string     `json:"eventId"`
	EventTitle     string     `json:"eventTitle"`
	EventStartsAt  time.Time  `json:"eventStartsAt"`
	EventEndsAt    time.Time  `json:"eventEndsAt"`
	VenueName      string     `json:"venueName"`
	VenueTimezone  string     `json:"venueTimezone"`
	TicketTypeID   string     `json:"ticketTypeId"`
	TicketTypeName string     `json:"ticketTypeName"`
	SeatID         string     `json:"seatId,omitempty"`
	Section        string     `json:"section,omitempty"`
	SeatLabel      string     `json:"seatLabel,omitempty"`
	HolderID       string     `json:"holderId"`
	AttendeeName   string     `json:"attendeeName"`
	Status         string     `json:"status"`
	CheckedInAt    *time.Time `json:"checkedInAt,omitempty"`
	CheckedInGate  string     `json:"checkedInGate,omitempty"`
	Version        int        `json:"version"`
	// QRPayload is what the ticket's QR code carries: the ticket's secret,
	// signed with the organizer's active check-in key. Absent on a void
	// ticket.
	QRPayload string    `json:"qrPayload,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ticketView turns tickets into responses, signing their QR payloads with
// the tenant's active key.
type ticketView struct {
	signer     *checkin.Signer
	tenantID   string
	keyVersion int
}

func (s *Server) ticketView(c *fiber.Ctx) (*ticketView, error) {
	keys, err := s.deps.Tickets.CheckinKeys(c.UserContext())
	if err != nil {
		return nil, err
	}
	return &ticketView{signer: s.deps.TicketSigner, tenantID: ticketing.TenantFromContext(c.UserContext()).ID,
		keyVersion: checkin.ActiveVersion(keys)}, nil
}

// payload is the signed QR payload of t, empty for a void ticket.
func (v *ticketView) payload(t *ticketing.Ticket) (string, error) {
	if t.Status == ticketing.TicketVoid {
		return "", nil
	}
	return v.signer.Sign(checkin.Payload{KeyVersion: v.keyVersion, TenantID: v.tenantID, EventID: t.EventID, TicketID: t.ID, Secret: t.Secret})
}

func (v *ticketView) response(t *ticketing.Ticket) (ticketResponse, error) {
	qr, err := v.payload(t)
	r := ticketResponse{ID: t.ID, BookingID: t.BookingID, EventID: t.EventID, EventTitle: t.EventTitle,
		EventStartsAt: t.EventStartsAt.UTC(), EventEndsAt: t.EventEndsAt.UTC(), VenueName: t.VenueName, VenueTimezone: t.VenueTimezone,
		TicketTypeID: t.TicketTypeID, TicketTypeName: t.TicketTypeName, SeatID: t.SeatID, Section: t.Section,
		SeatLabel: t.SeatLabel, HolderID: t.HolderID, AttendeeName: t.AttendeeName, Status: string(t.Status),
		CheckedInAt: utcPtr(t.CheckedInAt), CheckedInGate: t.CheckedInGate, Version: t.Version, QRPayload: qr,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	return r, err
}

// sendTicket answers one ticket.
func (s *Server) sendTicket(c *fiber.Ctx, t *ticketing.Ticket) error {
	v, err := s.ticketView(c)
	if err != nil {
		return err
	}
	r, err := v.response(t)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// listTickets is GET /v1/tickets: the caller's tickets (every ticket of the
// organizer for staff), by event or booking.
func (s *Server) listTickets(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := ticketing.TicketFilter{EventID: strings.Clone(c.Query("eventId")), BookingID: strings.Clone(c.Query("bookingId")), Page: page}
	var p ticketing.Problems
	p.Addf(f.EventID != "" && !ticketing.ValidID(f.EventID), "eventId must be an event id")
	p.Addf(f.BookingID != "" && !ticketing.ValidID(f.BookingID), "bookingId must be a booking id")
	if err := p.Err(); err != nil {
		return err
	}
	tickets, next, err := s.deps.Tickets.FindTickets(c.UserContext(), f)
	if err != nil {
		return err
	}
	v, err := s.ticketView(c)
	if err != nil {
		return err
	}
	out := make([]ticketResponse, len(tickets))
	for i, t := range tickets {
		if out[i], err = v.response(t); err != nil {
			return err
		}
	}
	return c.JSON(listOf(out, func(r ticketResponse) ticketResponse { return r }, next))
}

func (s *Server) getTicket(c *fiber.Ctx) error {
	id, err := pathID(c, "ticket")
	if err != nil {
		return err
	}
	t, err := s.deps.Tickets.FindTicket(c.UserContext(), id)
	if err != nil {
		return err
	}
	return s.sendTicket(c, t)
}

type updateTicketRequest struct {
	AttendeeName string `json:"attendeeName"`
	Version      *int   `json:"version"`
}

func (s *Server) updateTicket(c *fiber.Ctx) error {
	id, err := pathID(c, "ticket")
	if err != nil {
		return err
	}
	var req updateTicketRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Tickets.RenameAttendee(c.UserContext(), id, req.AttendeeName, req.Version)
	if err != nil {
		return err
	}
	return s.sendTicket(c, t)
}

type transferTicketRequest struct {
	Email string `json:"email"`
}

func (s *Server) transferTicket(c *fiber.Ctx) error {
	id, err := pathID(c, "ticket")
	if err != nil {
		return err
	}
	var req transferTicketRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Tickets.TransferTicket(c.UserContext(), id, req.Email)
	if err != nil {
		return err
	}
	return s.sendTicket(c, t)
}

// ticketQR is GET /v1/tickets/:id/qr.png: the QR code of the ticket's
// payload, for a phone's screen or a printout.
func (s *Server) ticketQR(c *fiber.Ctx) error {
	id, err := pathID(c, "ticket")
	if err != nil {
		return err
	}
	t, err := s.deps.Tickets.FindTicket(c.UserContext(), id)
	if err != nil {
		return err
	}
	v, err := s.ticketView(c)
	if err != nil {
		return err
	}
	payload, err := v.payload(t)
	if err != nil {
		return err
	}
	if payload == "" {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the ticket is void; it has no QR code")
	}
	png, err := checkin.QRPNG(payload, 6)
	if err != nil {
		return err
	}
	// The secret is in the image: no shared cache may keep it.
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

type checkinKeyResponse struct {
	Version   int        `json:"version"`
	Algorithm string     `json:"algorithm"`
	PublicKey string     `json:"publicKey"` // base64url, no padding
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"createdAt"`
	RetiredAt *time.Time `json:"retiredAt,omitempty"`
}

func checkinKeysResponse(keys []ticketing.CheckinKey) fiber.Map {
	out := make([]checkinKeyResponse, len(keys))
	for i, k := range keys {
		out[i] = checkinKeyResponse{Version: k.Version, Algorithm: "Ed25519", PublicKey: base64.RawURLEncoding.EncodeToString(k.PublicKey),
			Active: k.RetiredAt == nil, CreatedAt: k.CreatedAt.UTC(), RetiredAt: utcPtr(k.RetiredAt)}
	}
	return fiber.Map{"data": out, "payloadFormat": "TK1.<base64url body>.<base64url signature>"}
}

// checkinKeys is GET /v1/checkin-keys: the organizer's public keys, which
// scanners use to verify tickets offline.
func (s *Server) checkinKeys(c *fiber.Ctx) error {
	keys, err := s.deps.Tickets.CheckinKeys(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(checkinKeysResponse(keys))
}

// rotateCheckinKey is POST /v1/checkin-keys/rotate: a new active key; QR
// payloads signed by the old one no longer verify.
func (s *Server) rotateCheckinKey(c *fiber.Ctx) error {
	keys, err := s.deps.Tickets.RotateCheckinKey(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(checkinKeysResponse(keys))
}

// bookingTicketsPDF is GET /v1/bookings/:id/tickets.pdf: the booking's
// tickets that the caller holds (all of them for staff), one page each.
func (s *Server) bookingTicketsPDF(c *fiber.Ctx) error {
	id, err := pathID(c, "booking")
	if err != nil {
		return err
	}
	pdf, err := ticketpdf.Booking(c.UserContext(), s.deps.Tickets, s.deps.TicketSigner, id, time.Now())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="tickets-`+id+`.pdf"`)
	c.Set(fiber.HeaderContentType, "application/pdf")
	return c.Send(pdf)
}
