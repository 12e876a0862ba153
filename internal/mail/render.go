package mail

import (
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// confirmationView is what the booking-confirmed templates show, formatted.
type confirmationView struct {
	Buyer, Organizer, Event, When, Venue, Reference string
	Lines                                           []lineView
	Total                                           string
}

type lineView struct {
	Quantity        int
	Name, Seats     string
	Unit, LineTotal string
}

var confirmationText = texttemplate.Must(texttemplate.New("text").Parse(`Hello {{.Buyer}},

Your booking with {{.Organizer}} is confirmed.

{{.Event}}
{{.When}}
{{.Venue}}

{{range .Lines}}{{.Quantity}} x {{.Name}}{{if .Seats}} ({{.Seats}}){{end}}: {{.LineTotal}}
{{end}}Total: {{.Total}}

Booking reference: {{.Reference}}

Keep this email for your records.
{{.Organizer}}, through ticketd
`))

var confirmationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Booking confirmed</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>Hello {{.Buyer}},</p>
<p>Your booking with <strong>{{.Organizer}}</strong> is confirmed.</p>
<h2 style="margin-bottom: 0">{{.Event}}</h2>
<p style="margin-top: 0.3em">{{.When}}<br>{{.Venue}}</p>
<table cellpadding="4" style="border-collapse: collapse">
<thead><tr><th align="left">Tickets</th><th align="right">Price</th><th align="right">Amount</th></tr></thead>
<tbody>
{{range .Lines}}<tr><td>{{.Quantity}} &times; {{.Name}}{{if .Seats}}<br><small>{{.Seats}}</small>{{end}}</td><td align="right">{{.Unit}}</td><td align="right">{{.LineTotal}}</td></tr>
{{end}}</tbody>
<tfoot><tr><th align="left" colspan="2">Total</th><th align="right">{{.Total}}</th></tr></tfoot>
</table>
<p>Booking reference: <code>{{.Reference}}</code></p>
<p>Keep this email for your records.<br>{{.Organizer}}, through ticketd</p>
</body></html>
`))

// BookingConfirmed renders the mail that tells a buyer their booking is
// confirmed. The tickets as PDF are to be attached by the ticket work
// (Message.Attachments).
func BookingConfirmed(c *ticketing.BookingConfirmation) (*Message, error) {
	v := confirmationView{
		Buyer: c.BuyerName, Organizer: c.OrganizerName, Event: c.EventTitle,
		When: when(c.StartsAt, c.EndsAt, c.Timezone), Venue: joinNonEmpty(", ", c.VenueName, c.VenueAddress, c.VenueCity),
		Reference: c.BookingID, Total: FormatMoney(c.Total, c.Currency),
	}
	for _, l := range c.Lines {
		v.Lines = append(v.Lines, lineView{Quantity: l.Quantity, Name: l.TicketType, Seats: strings.Join(l.Seats, ", "),
			Unit: FormatMoney(l.UnitPrice, c.Currency), LineTotal: FormatMoney(l.UnitPrice*int64(l.Quantity), c.Currency)})
	}
	return render(c, "Booking confirmed: ", confirmationText, confirmationHTML, v)
}

// voidedView is what the event-cancelled and booking-refunded templates
// show, formatted.
type voidedView struct {
	Buyer, Organizer, Event, When, Venue, Reference string
	// Refunded is what is refunded or being refunded, "" when nothing is;
	// Paid is the booking's total, "" when it was free.
	Refunded, Paid string
}

func newVoidedView(c *ticketing.BookingConfirmation) voidedView {
	v := voidedView{
		Buyer: c.BuyerName, Organizer: c.OrganizerName, Event: c.EventTitle,
		When: when(c.StartsAt, c.EndsAt, c.Timezone), Venue: joinNonEmpty(", ", c.VenueName, c.VenueAddress, c.VenueCity),
		Reference: c.BookingID,
	}
	if c.Refunded > 0 {
		v.Refunded = FormatMoney(c.Refunded, c.Currency)
	}
	if c.Total > 0 {
		v.Paid = FormatMoney(c.Total, c.Currency)
	}
	return v
}

// The refund sentence of the event-cancelled mail has three cases: a
// refund that did not fail, a free booking, and a paid booking none of whose
// refunds is live (they failed), of which the buyer is told no more than is
// known.
var cancelledText = texttemplate.Must(texttemplate.New("text").Parse(`Hello {{.Buyer}},

{{.Organizer}} has cancelled {{.Event}}.

{{.Event}}
{{.When}}
{{.Venue}}

Your tickets are void.
{{if .Refunded}}A refund of {{.Refunded}} is on its way to your payment method.
{{else if not .Paid}}Nothing was paid, so there is nothing to refund.
{{else}}Contact {{.Organizer}} about a refund of the {{.Paid}} you paid.
{{end}}
Booking reference: {{.Reference}}

{{.Organizer}}, through ticketd
`))

var cancelledHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Event cancelled</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>Hello {{.Buyer}},</p>
<p><strong>{{.Organizer}}</strong> has cancelled {{.Event}}.</p>
<h2 style="margin-bottom: 0">{{.Event}}</h2>
<p style="margin-top: 0.3em">{{.When}}<br>{{.Venue}}</p>
<p>Your tickets are void.<br>
{{if .Refunded}}A refund of <strong>{{.Refunded}}</strong> is on its way to your payment method.
{{else if not .Paid}}Nothing was paid, so there is nothing to refund.
{{else}}Contact {{.Organizer}} about a refund of the {{.Paid}} you paid.
{{end}}</p>
<p>Booking reference: <code>{{.Reference}}</code></p>
<p>{{.Organizer}}, through ticketd</p>
</body></html>
`))

// EventCancelled renders the mail that tells the buyer of a booking that its
// event was cancelled: the tickets are void, and what is refunded
// (c.Refunded) is on its way.
func EventCancelled(c *ticketing.BookingConfirmation) (*Message, error) {
	return render(c, "Event cancelled: ", cancelledText, cancelledHTML, newVoidedView(c))
}

var refundedText = texttemplate.Must(texttemplate.New("text").Parse(`Hello {{.Buyer}},

Your booking of {{.Event}} with {{.Organizer}} was refunded in full: {{.Refunded}} to your payment method.
Your tickets are void.

{{.Event}}
{{.When}}
{{.Venue}}

Booking reference: {{.Reference}}

{{.Organizer}}, through ticketd
`))

var refundedHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Booking refunded</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>Hello {{.Buyer}},</p>
<p>Your booking of {{.Event}} with <strong>{{.Organizer}}</strong> was refunded in full:
<strong>{{.Refunded}}</strong> to your payment method.<br>Your tickets are void.</p>
<h2 style="margin-bottom: 0">{{.Event}}</h2>
<p style="margin-top: 0.3em">{{.When}}<br>{{.Venue}}</p>
<p>Booking reference: <code>{{.Reference}}</code></p>
<p>{{.Organizer}}, through ticketd</p>
</body></html>
`))

// BookingRefunded renders the mail that tells a buyer their booking was
// refunded in full: c.Refunded, to be more than zero.
func BookingRefunded(c *ticketing.BookingConfirmation) (*Message, error) {
	return render(c, "Refund: ", refundedText, refundedHTML, newVoidedView(c))
}

// render makes the mail of view v to a booking's buyer, its subject the
// prefix and the event's title.
func render(c *ticketing.BookingConfirmation, subject string, textT *texttemplate.Template, htmlT *htmltemplate.Template, v any) (*Message, error) {
	var text, html strings.Builder
	if err := textT.Execute(&text, v); err != nil {
		return nil, err
	}
	if err := htmlT.Execute(&html, v); err != nil {
		return nil, err
	}
	return &Message{
		To: c.BuyerEmail, ToName: oneLine(c.BuyerName, maxNameRunes),
		Subject: oneLine(subject+c.EventTitle, MaxSubjectRunes),
		Text:    text.String(), HTML: html.String(),
	}, nil
}

// when shows an event's times in its venue's time zone, e.g.
// "Saturday 14 March 2026, 19:00 to 22:00 WAT".
func when(starts, ends time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	s, e := starts.In(loc), ends.In(loc)
	out := s.Format("Monday 2 January 2006, 15:04")
	if s.Format("2006-01-02") == e.Format("2006-01-02") {
		out += " to " + e.Format("15:04")
	} else {
		out += " to " + e.Format("Monday 2 January 2006, 15:04")
	}
	return out + " " + e.Format("MST")
}

// oneLine makes organizer-supplied text fit a header: control characters
// become spaces, and the text is cut to max runes.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// minorUnits are the ISO 4217 currencies whose minor unit is not a
// hundredth; every other has two decimals.
var minorUnits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// FormatMoney writes an amount in minor units with its currency code and
// the currency's decimals, grouping thousands: FormatMoney(1500050, "NGN")
// is "NGN 15,000.50", FormatMoney(1500, "JPY") is "JPY 1,500".
func FormatMoney(amount int64, currency string) string {
	decimals, ok := minorUnits[currency]
	if !ok {
		decimals = 2
	}
	sign := ""
	u := uint64(amount)
	if amount < 0 {
		sign, u = "-", uint64(-amount)
	}
	digits := strconv.FormatUint(u, 10)
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-decimals], digits[len(digits)-decimals:]
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if decimals > 0 {
		b.WriteString("." + frac)
	}
	return currency + " " + sign + b.String()
}
