package ticketing

import (
	"context"
	"time"
	"unicode/utf8"
)

// ScanResult is what the door is told of a scan.
type ScanResult string

// Scan results.
const (
	ScanOK               ScanResult = "ok"
	ScanAlreadyCheckedIn ScanResult = "already_checked_in"
	ScanVoid             ScanResult = "void"
	ScanWrongEvent       ScanResult = "wrong_event"
	ScanNotFound         ScanResult = "not_found"
)

// Limits of check-in input.
const (
	MaxGate         = 60
	MaxBatchScans   = 500
	MaxCheckinList  = 5000
	MaxScanClockLag = 5 * time.Minute
)

// Scan is one scan of a ticket: its secret, or the QR payload that carries
// it, at a gate. ScannedAt is set by offline scanners (when the scan was
// made); online scans are now.
type Scan struct {
	Secret    string
	Payload   string
	Gate      string
	ScannedAt time.Time
}

// ScanOutcome is the answer to one scan: the result, the ticket (nil for
// not_found), and for already_checked_in when and where it first was.
// Conflict is set on an offline upload that found the ticket scanned by
// another scan: the one recorded as first is then in Ticket.
type ScanOutcome struct {
	Result   ScanResult
	Ticket   *Ticket
	Conflict bool
}

// CheckinEntry is a ticket as an offline scanner caches it: the hash of its
// secret, never the secret.
type CheckinEntry struct {
	TicketID       string
	SecretHash     string
	Status         TicketStatus
	TicketTypeID   string
	TicketTypeName string
	SeatLabel      string
	AttendeeName   string
	CheckedInAt    *time.Time
	CheckedInGate  string
	UpdatedAt      time.Time
}

// CheckinStats are an event's check-ins so far.
type CheckinStats struct {
	ByType []CheckinTypeCount
	ByGate []CheckinGateCount
	Latest []ScanRecord
}

// CheckinTypeCount counts the tickets of a ticket type (not void) and how
// many of them are checked in.
type CheckinTypeCount struct {
	TicketTypeID, Name string
	Tickets, CheckedIn int
}

// CheckinGateCount counts the check-ins at a gate.
type CheckinGateCount struct {
	Gate      string
	CheckedIn int
}

// ScanRecord is one recorded scan.
type ScanRecord struct {
	ID             string
	TicketID       string
	Result         ScanResult
	Gate           string
	Offline        bool
	ScannedAt      time.Time
	RecordedAt     time.Time
	AttendeeName   string
	TicketTypeName string
	SeatLabel      string
}

// CheckinService checks tickets in at the door of the context's tenant.
type CheckinService interface {
	// CheckIn applies scans for the event, in order of their ScannedAt,
	// each once: two scans of one ticket at the same moment give one ok.
	// offline scans keep their ScannedAt, and the earliest scan of a
	// ticket is the one recorded.
	CheckIn(ctx context.Context, eventID string, scans []Scan, offline bool) ([]ScanOutcome, error)
	// CheckinList returns the event's tickets for a scanner to cache, in
	// id order after the cursor, changed after since when it is set.
	CheckinList(ctx context.Context, eventID string, since *time.Time, after string, limit int) ([]CheckinEntry, string, error)
	// CheckinStats counts the event's check-ins and lists the latest scans.
	CheckinStats(ctx context.Context, eventID string, latest int) (*CheckinStats, error)
}

// Validate checks a scan's input.
func (s Scan) Validate(p *Problems, at string) {
	p.Addf((s.Secret == "") == (s.Payload == ""), "%ssend the ticket's secret or its QR payload, one of them", at)
	p.Addf(len(s.Secret) > 64 || len(s.Payload) > 256, "%sthe secret or payload is too long", at)
	p.Addf(utf8.RuneCountInString(s.Gate) > MaxGate, "%sgate must be at most %d characters", at, MaxGate)
}
