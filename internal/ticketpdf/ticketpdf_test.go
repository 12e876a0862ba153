package ticketpdf

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

func TestRender(t *testing.T) {
	s, _ := checkin.NewSigner(strings.Repeat("k", 32))
	tk := &ticketing.Ticket{ID: "6b9e4c0a-3f5d-4e7c-9a8b-2c3d4e5f6071", EventID: "5a8d3b9f-2e4c-4d6b-8f7a-1b2c3d4e5f60",
		EventTitle: "Afrobeats Night: Live in Lagos", EventStartsAt: time.Date(2027, 1, 15, 19, 0, 0, 0, time.UTC),
		VenueName: "Eko Hall", VenueTimezone: "Africa/Lagos", TicketTypeName: "Floor", Section: "Floor", SeatLabel: "B-12", AttendeeName: "Adaeze Okafor", Status: ticketing.TicketValid}
	payload, err := s.Sign(checkin.Payload{KeyVersion: 1, TenantID: "4f7c2a8e-1d3b-4c5a-9e6f-0a1b2c3d4e5f", EventID: tk.EventID, TicketID: tk.ID,
		Secret: "0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	void := *tk
	void.Status = ticketing.TicketVoid
	b, err := Render("Demo Events", []Ticket{{Ticket: tk, Payload: payload}, {Ticket: &void}}, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) || bytes.Count(b, []byte("/Type /Page\n")) != 2 || bytes.Count(b, []byte("/Subtype /Image")) != 1 {
		t.Fatalf("not two pages with one QR code: %d bytes", len(b))
	}
	// The same input renders the same bytes.
	again, _ := Render("Demo Events", []Ticket{{Ticket: tk, Payload: payload}, {Ticket: &void}}, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	if !bytes.Equal(b, again) {
		t.Fatal("rendering is not deterministic")
	}
	if dir := os.Getenv("TICKETPDF_OUT"); dir != "" {
		_ = os.WriteFile(dir+"/tickets.pdf", b, 0o644)
	}
}
