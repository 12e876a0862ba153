package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{0, "NGN", "NGN 0.00"},
		{5, "NGN", "NGN 0.05"},
		{1500050, "NGN", "NGN 15,000.50"},
		{123456789012, "USD", "USD 1,234,567,890.12"},
		{100000, "GHS", "GHS 1,000.00"},
		{1500, "JPY", "JPY 1,500"},
		{999, "XOF", "XOF 999"},
		{1234567, "KWD", "KWD 1,234.567"},
		{-250, "ZAR", "ZAR -2.50"},
	} {
		if got := mail.FormatMoney(tc.amount, tc.currency); got != tc.want {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
	}
}

func confirmation() *ticketing.BookingConfirmation {
	start := time.Date(2031, 12, 31, 22, 0, 0, 0, time.UTC)
	return &ticketing.BookingConfirmation{
		BookingID: "0b7c6a4e-0000-4000-8000-000000000001", Status: ticketing.BookingConfirmed,
		BuyerName: "Ada Obi", BuyerEmail: "ada@example.com", OrganizerName: "Acme Events",
		EventTitle: "New Year's Eve", StartsAt: start, EndsAt: start.Add(4 * time.Hour),
		VenueName: "Main Hall", VenueCity: "Lagos", Timezone: "Africa/Lagos",
		Lines: []ticketing.ConfirmationLine{{TicketType: "General", Quantity: 3, UnitPrice: 250000}},
		Total: 750000, Currency: "NGN",
	}
}

func TestBookingConfirmedMail(t *testing.T) {
	m, err := mail.BookingConfirmed(confirmation())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.To != "ada@example.com" || m.ToName != "Ada Obi" || m.Subject != "Booking confirmed: New Year's Eve" || len(m.Attachments) != 0 {
		t.Errorf("mail to %q %q about %q with %d attachments", m.To, m.ToName, m.Subject, len(m.Attachments))
	}
	for _, want := range []string{
		"Wednesday 31 December 2031, 23:00 to Thursday 1 January 2032, 03:00 WAT", "Main Hall, Lagos",
		"3 x General: NGN 7,500.00", "Total: NGN 7,500.00",
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, "New Year&#39;s Eve") {
		t.Errorf("HTML:\n%s", m.HTML)
	}
}

// TestBookingConfirmedMailOfAwkwardText: organizer-supplied text cannot
// break the headers, and a time zone the machine lacks falls back to UTC.
func TestBookingConfirmedMailOfAwkwardText(t *testing.T) {
	c := confirmation()
	c.EventTitle = "Line one\r\nBcc: victim@example.org " + strings.Repeat("é", 400)
	c.BuyerName = "Ada\nBcc: victim@example.org"
	c.Timezone = "Nowhere/Atlantis"
	m, err := mail.BookingConfirmed(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("the rendered mail is invalid: %v", err)
	}
	if strings.ContainsAny(m.Subject+m.ToName, "\r\n") || len([]rune(m.Subject)) > mail.MaxSubjectRunes {
		t.Errorf("subject %q, name %q", m.Subject, m.ToName)
	}
	if !strings.Contains(m.Text, "22:00 to Thursday 1 January 2032, 02:00 UTC") {
		t.Errorf("text:\n%s", m.Text)
	}
}

// refunded is confirmation's booking, voided and refunded by amount.
func refunded(amount int64) *ticketing.BookingConfirmation {
	c := confirmation()
	c.Status, c.Refunded = ticketing.BookingRefunded, amount
	return c
}

func TestEventCancelledMail(t *testing.T) {
	free := refunded(0)
	free.Total, free.Lines[0].UnitPrice = 0, 0
	for _, tc := range []struct {
		name        string
		c           *ticketing.BookingConfirmation
		money, html string
	}{
		{"refundOnItsWay", refunded(750000), "A refund of NGN 7,500.00 is on its way to your payment method.",
			"A refund of <strong>NGN 7,500.00</strong> is on its way"},
		{"partOfItRefunded", refunded(250000), "A refund of NGN 2,500.00 is on its way to your payment method.",
			"A refund of <strong>NGN 2,500.00</strong> is on its way"},
		{"freeNothingToRefund", free, "Nothing was paid, so there is nothing to refund.",
			"Nothing was paid, so there is nothing to refund."},
		{"paidRefundsFailed", refunded(0), "Contact Acme Events about a refund of the NGN 7,500.00 you paid.",
			"Contact Acme Events about a refund of the NGN 7,500.00 you paid."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.EventTitle = "Jazz <Night> & Friends"
			m, err := mail.EventCancelled(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			if m.To != "ada@example.com" || m.ToName != "Ada Obi" || m.Subject != "Event cancelled: Jazz <Night> & Friends" || len(m.Attachments) != 0 {
				t.Errorf("mail to %q %q about %q with %d attachments", m.To, m.ToName, m.Subject, len(m.Attachments))
			}
			for _, want := range []string{
				"Hello Ada Obi,", "Acme Events has cancelled Jazz <Night> & Friends.",
				"Wednesday 31 December 2031, 23:00 to Thursday 1 January 2032, 03:00 WAT", "Main Hall, Lagos",
				"Your tickets are void.", tc.money, "Booking reference: " + tc.c.BookingID,
			} {
				if !strings.Contains(m.Text, want) {
					t.Errorf("text lacks %q:\n%s", want, m.Text)
				}
			}
			if !strings.Contains(m.HTML, "Jazz &lt;Night&gt; &amp; Friends") || !strings.Contains(m.HTML, tc.html) ||
				strings.Contains(m.HTML, "<Night>") {
				t.Errorf("HTML lacks %q or the escaped title:\n%s", tc.html, m.HTML)
			}
		})
	}
}

func TestBookingRefundedMail(t *testing.T) {
	c := refunded(750000)
	c.EventTitle = "Jazz <Night> & Friends"
	m, err := mail.BookingRefunded(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.To != "ada@example.com" || m.ToName != "Ada Obi" || m.Subject != "Refund: Jazz <Night> & Friends" || len(m.Attachments) != 0 {
		t.Errorf("mail to %q %q about %q with %d attachments", m.To, m.ToName, m.Subject, len(m.Attachments))
	}
	for _, want := range []string{
		"Hello Ada Obi,",
		"Your booking of Jazz <Night> & Friends with Acme Events was refunded in full: NGN 7,500.00 to your payment method.",
		"Your tickets are void.", "Booking reference: " + c.BookingID,
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, "Jazz &lt;Night&gt; &amp; Friends") || !strings.Contains(m.HTML, "<strong>NGN 7,500.00</strong>") ||
		strings.Contains(m.HTML, "<Night>") {
		t.Errorf("HTML:\n%s", m.HTML)
	}
}

// TestVoidedMailsOfAwkwardText: the new mails' headers hold organizer- and
// buyer-supplied text on one line, as the confirmation's do.
func TestVoidedMailsOfAwkwardText(t *testing.T) {
	for name, render := range map[string]func(*ticketing.BookingConfirmation) (*mail.Message, error){
		"eventCancelled": mail.EventCancelled, "bookingRefunded": mail.BookingRefunded,
	} {
		t.Run(name, func(t *testing.T) {
			c := refunded(750000)
			c.EventTitle = "Line one\r\nBcc: victim@example.org " + strings.Repeat("é", 400)
			c.BuyerName = "Ada\nBcc: victim@example.org"
			m, err := render(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("the rendered mail is invalid: %v", err)
			}
			if strings.ContainsAny(m.Subject+m.ToName, "\r\n") || len([]rune(m.Subject)) > mail.MaxSubjectRunes {
				t.Errorf("subject %q, name %q", m.Subject, m.ToName)
			}
		})
	}
}
