package ticketing

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// TicketStatus is where a ticket is in its life.
type TicketStatus string

// Ticket statuses.
const (
	TicketValid     TicketStatus = "valid"
	TicketCheckedIn TicketStatus = "checked_in"
	TicketVoid      TicketStatus = "void"
)

// Codes of ticket errors.
const (
	// CodeEventStarted refuses a change that is only allowed before the
	// event starts (the attendee's name, a transfer).
	CodeEventStarted = "EVENT_STARTED"
)

// MaxAttendeeName bounds an attendee's name, in characters.
const MaxAttendeeName = 120

// Ticket is one place of a confirmed booking: what its holder carries to
// the door. Secret is what the QR code carries; only the holder and staff
// see it.
type Ticket struct {
	ID             string
	BookingID      string
	EventID        string
	EventTitle     string
	EventStartsAt  time.Time
	EventEndsAt    time.Time
	VenueName      string
	VenueTimezone  string // IANA, in which the ticket's times are shown
	TicketTypeID   string
	TicketTypeName string
	// SeatID, Section and SeatLabel are set for a seat.
	SeatID        string
	Section       string
	SeatLabel     string
	HolderID      string
	AttendeeName  string
	Status        TicketStatus
	Secret        string
	CheckedInAt   *time.Time
	CheckedInGate string
	Version       int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TicketFilter selects tickets; HolderID empty means any holder (staff).
type TicketFilter struct {
	HolderID  string
	EventID   string
	BookingID string
	Page      Page
}

// CheckinKey is a version of a tenant's check-in signing key.
type CheckinKey struct {
	Version   int
	PublicKey []byte // Ed25519
	CreatedAt time.Time
	RetiredAt *time.Time
}

// TicketService serves the tickets of the context's tenant to the context's
// actor: holders see their own, staff (ADMIN) every ticket.
type TicketService interface {
	// FindTickets lists tickets, newest first.
	FindTickets(ctx context.Context, f TicketFilter) ([]*Ticket, string, error)
	// FindTicket returns one ticket the actor may see, else NotFound.
	FindTicket(ctx context.Context, id string) (*Ticket, error)
	// RenameAttendee sets the attendee's name of a valid ticket before its
	// event starts. version, when set, must be the ticket's.
	RenameAttendee(ctx context.Context, id, name string, version *int) (*Ticket, error)
	// TransferTicket gives a valid ticket, before its event starts, to
	// the organizer's account with that email, with a new secret.
	TransferTicket(ctx context.Context, id, email string) (*Ticket, error)
	// CheckinKeys returns the tenant's check-in key versions, newest first,
	// making the first one when there is none.
	CheckinKeys(ctx context.Context) ([]CheckinKey, error)
	// RotateCheckinKey retires the active key and makes the next one.
	RotateCheckinKey(ctx context.Context) ([]CheckinKey, error)
}

// CleanAttendeeName trims a name and checks it.
func CleanAttendeeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	var p Problems
	p.Addf(name == "", "attendeeName is required")
	p.Addf(utf8.RuneCountInString(name) > MaxAttendeeName, "attendeeName must be at most %d characters", MaxAttendeeName)
	return name, p.Err()
}
