package ticketing

import "time"

// MailKind names a mail the platform sends buyers. A booking gets at most
// one mail of each kind.
type MailKind string

// Mail kinds.
const (
	// MailBookingConfirmed is sent when a payment confirms a booking.
	MailBookingConfirmed MailKind = "booking_confirmed"
	// MailEventCancelled is sent to the buyer of each confirmed booking of
	// an event its organizer cancelled, which voids the booking
	// (BookingRefunded) and refunds what was paid for it.
	MailEventCancelled MailKind = "event_cancelled"
	// MailBookingRefunded is sent when a booking is refunded in full
	// (BookingRefunded).
	MailBookingRefunded MailKind = "booking_refunded"
)

// MailDue is a mail written down to be sent: its outbox row.
type MailDue struct {
	ID        string
	Kind      MailKind
	BookingID string
	Attempts  int
}

// BookingConfirmation is what the mails about a booking (confirmed, event
// cancelled, refunded) say, read from the database when the mail is sent.
type BookingConfirmation struct {
	BookingID string
	// Status is the booking's status now, which may have moved on since
	// the confirmation (refunded).
	Status        BookingStatus
	BuyerName     string
	BuyerEmail    string
	OrganizerName string
	EventTitle    string
	StartsAt      time.Time
	EndsAt        time.Time
	VenueName     string
	VenueAddress  string
	VenueCity     string
	// Timezone is the venue's IANA time zone, in which times are shown.
	Timezone string
	Lines    []ConfirmationLine
	Total    int64
	Currency string
	// Refunded is the sum of the booking's refunds that did not fail
	// (queued, on their way or processed), in Currency.
	Refunded int64
}

// ConfirmationLine is the tickets of one ticket type in a confirmation.
type ConfirmationLine struct {
	TicketType string
	Quantity   int
	UnitPrice  int64
	// Seats are the seats' labels with their section ("Orchestra A-1"),
	// for a seated ticket type.
	Seats []string
}
