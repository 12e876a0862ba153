// Package ticketpdf renders tickets as a PDF, one A6 page each with its QR
// code, for buyers to print or to attach to an email.
package ticketpdf

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/storefront"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Ticket is a ticket with the QR payload to print on it.
type Ticket struct {
	*ticketing.Ticket
	Payload string
}

// Render returns the PDF of tickets of the organizer named organizer. The
// built-in fonts cover Latin-1: other characters print as "?".
func Render(organizer string, tickets []Ticket, created time.Time) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A6", "")
	pdf.SetCatalogSort(true) // the same tickets give the same bytes
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetTitle("Tickets", true)
	pdf.SetAuthor(organizer, true)
	pdf.SetMargins(8, 8, 8)
	pdf.SetAutoPageBreak(false, 0)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	for i, t := range tickets {
		pdf.AddPage()
		pdf.SetFont("Helvetica", "", 9)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, tr(organizer), "", 1, "L", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
		pdf.SetFont("Helvetica", "B", 14)
		pdf.MultiCell(0, 6, tr(t.EventTitle), "", "L", false)
		pdf.SetFont("Helvetica", "", 10)
		pdf.CellFormat(0, 5, tr(storefront.When(t.EventStartsAt, t.VenueTimezone)), "", 1, "L", false, 0, "")
		pdf.CellFormat(0, 5, tr(t.VenueName), "", 1, "L", false, 0, "")
		pdf.Ln(2)
		pdf.SetFont("Helvetica", "B", 11)
		place := t.TicketTypeName
		if t.SeatLabel != "" {
			place += " - " + t.Section + " " + t.SeatLabel
		}
		pdf.MultiCell(0, 5, tr(place), "", "L", false)
		pdf.SetFont("Helvetica", "", 10)
		pdf.CellFormat(0, 5, tr(t.AttendeeName), "", 1, "L", false, 0, "")
		if t.Payload == "" {
			pdf.SetFont("Helvetica", "B", 16)
			pdf.SetTextColor(180, 0, 0)
			pdf.CellFormat(0, 20, "VOID", "", 1, "C", false, 0, "")
			pdf.SetTextColor(0, 0, 0)
		} else {
			png, err := checkin.QRPNG(t.Payload, 4)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("qr%d", i)
			pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
			pdf.ImageOptions(name, 22, pdf.GetY()+3, 61, 61, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		}
		pdf.SetY(135)
		pdf.SetFont("Helvetica", "", 7)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 4, "Ticket "+t.ID, "", 1, "C", false, 0, "")
		pdf.CellFormat(0, 4, tr(fmt.Sprintf("Ticket %d of %d. Show the QR code at the door; do not share it.", i+1, len(tickets))), "", 1, "C", false, 0, "")
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Booking renders the tickets of a booking that the context's actor may see
// (every ticket for staff and the system), in order of issue, with their QR
// payloads signed by the organizer's active check-in key; NotFound when
// there are none (a booking not paid).
func Booking(ctx context.Context, tickets ticketing.TicketService, signer *checkin.Signer, bookingID string, now time.Time) ([]byte, error) {
	list, _, err := tickets.FindTickets(ctx, ticketing.TicketFilter{BookingID: bookingID, Page: ticketing.Page{Limit: ticketing.MaxPageSize}})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ticketing.NotFound("tickets of the booking")
	}
	keys, err := tickets.CheckinKeys(ctx)
	if err != nil {
		return nil, err
	}
	tenant := ticketing.TenantFromContext(ctx)
	p := checkin.Payload{TenantID: tenant.ID, KeyVersion: checkin.ActiveVersion(keys)}
	// The list is newest first; the pages go in the order of issue.
	printed := make([]Ticket, len(list))
	for i, t := range list {
		printed[len(list)-1-i] = Ticket{Ticket: t}
		if t.Status == ticketing.TicketVoid {
			continue
		}
		p.EventID, p.TicketID, p.Secret = t.EventID, t.ID, t.Secret
		if printed[len(list)-1-i].Payload, err = signer.Sign(p); err != nil {
			return nil, err
		}
	}
	return Render(tenant.Name, printed, now)
}
