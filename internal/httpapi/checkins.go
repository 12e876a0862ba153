package httpapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/storefront"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// scannedTicket is what the door sees of a scanned ticket: never its secret.
type scannedTicket struct {
	ID             string     `json:"id"`
	EventID        string     `json:"eventId"`
	TicketTypeID   string     `json:"ticketTypeId"`
	TicketTypeName string     `json:"ticketTypeName"`
	Section        string     `json:"section,omitempty"`
	SeatLabel      string     `json:"seatLabel,omitempty"`
	AttendeeName   string     `json:"attendeeName"`
	Status         string     `json:"status"`
	CheckedInAt    *time.Time `json:"checkedInAt,omitempty"`
	// CheckedInAtLocal is CheckedInAt in the venue's time zone (RFC 3339
	// with its offset, to the second) and CheckedInAtText as the shop
	// shows times, the zone named: the door says when in the venue's time,
	// whatever the scanning device's zone.
	CheckedInAtLocal string `json:"checkedInAtLocal,omitempty"`
	CheckedInAtText  string `json:"checkedInAtText,omitempty"`
	CheckedInGate    string `json:"checkedInGate,omitempty"`
	VenueTimezone    string `json:"venueTimezone"`
}

type scanResponse struct {
	Result   string         `json:"result"`
	Conflict bool           `json:"conflict,omitempty"`
	Ticket   *scannedTicket `json:"ticket,omitempty"`
}

func toScanResponse(o ticketing.ScanOutcome) scanResponse {
	r := scanResponse{Result: string(o.Result), Conflict: o.Conflict}
	if t := o.Ticket; t != nil && o.Result != ticketing.ScanWrongEvent {
		r.Ticket = &scannedTicket{ID: t.ID, EventID: t.EventID, TicketTypeID: t.TicketTypeID, TicketTypeName: t.TicketTypeName,
			Section: t.Section, SeatLabel: t.SeatLabel, AttendeeName: t.AttendeeName, Status: string(t.Status),
			CheckedInAt: utcPtr(t.CheckedInAt), CheckedInGate: t.CheckedInGate, VenueTimezone: t.VenueTimezone}
		if at := t.CheckedInAt; at != nil {
			r.Ticket.CheckedInAtLocal = at.In(ticketing.Location(t.VenueTimezone)).Format(time.RFC3339)
			r.Ticket.CheckedInAtText = storefront.When(*at, t.VenueTimezone)
		}
	}
	return r
}

type scanRequest struct {
	Secret    string     `json:"secret"`
	Payload   string     `json:"payload"`
	Gate      string     `json:"gate"`
	ScannedAt *time.Time `json:"scannedAt"`
}

func (r scanRequest) scan() ticketing.Scan {
	s := ticketing.Scan{Secret: strings.TrimSpace(r.Secret), Payload: strings.TrimSpace(r.Payload), Gate: strings.TrimSpace(r.Gate)}
	if r.ScannedAt != nil {
		s.ScannedAt = r.ScannedAt.UTC()
	}
	return s
}

type checkinRequest struct {
	EventID string `json:"eventId"`
	scanRequest
}

// checkIn is POST /v1/checkins: one scan at the door, now.
func (s *Server) checkIn(c *fiber.Ctx) error {
	var req checkinRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if !ticketing.ValidID(req.EventID) {
		return invalid("eventId must be the id of the event at this door")
	}
	out, err := s.deps.Checkins.CheckIn(c.UserContext(), req.EventID, []ticketing.Scan{req.scan()}, false)
	if err != nil {
		return err
	}
	return c.JSON(toScanResponse(out[0]))
}

type checkinBatchRequest struct {
	EventID string        `json:"eventId"`
	Scans   []scanRequest `json:"scans"`
}

// checkInBatch is POST /v1/checkins/batch: the scans an offline scanner
// made, each with when it was made; the earliest scan of a ticket wins.
func (s *Server) checkInBatch(c *fiber.Ctx) error {
	var req checkinBatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if !ticketing.ValidID(req.EventID) {
		return invalid("eventId must be the id of the event at this door")
	}
	if len(req.Scans) > ticketing.MaxBatchScans {
		return invalid("at most %d scans at once", ticketing.MaxBatchScans)
	}
	scans := make([]ticketing.Scan, len(req.Scans))
	for i, r := range req.Scans {
		scans[i] = r.scan()
	}
	out, err := s.deps.Checkins.CheckIn(c.UserContext(), req.EventID, scans, true)
	if err != nil {
		return err
	}
	data := make([]scanResponse, len(out))
	for i, o := range out {
		data[i] = toScanResponse(o)
	}
	return c.JSON(fiber.Map{"data": data})
}

type checkinEntryResponse struct {
	TicketID       string     `json:"ticketId"`
	SecretHash     string     `json:"secretHash"`
	Status         string     `json:"status"`
	TicketTypeID   string     `json:"ticketTypeId"`
	TicketTypeName string     `json:"ticketTypeName"`
	SeatLabel      string     `json:"seatLabel,omitempty"`
	AttendeeName   string     `json:"attendeeName"`
	CheckedInAt    *time.Time `json:"checkedInAt,omitempty"`
	CheckedInGate  string     `json:"checkedInGate,omitempty"`
	UpdatedAt      time.Time  `json:"updatedAt"`
}

// checkinList is GET /v1/events/:id/checkin-list: the event's tickets for a
// scanner to cache, as hashes of their secrets; ?since= gives what changed.
func (s *Server) checkinList(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	var p ticketing.Problems
	limit := ticketing.MaxCheckinList
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		p.Addf(err != nil || n < 1 || n > ticketing.MaxCheckinList, "limit must be between 1 and %d", ticketing.MaxCheckinList)
		limit = n
	}
	var since *time.Time
	if v := c.Query("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		p.Addf(err != nil, "since must be an RFC 3339 time")
		since = &t
	}
	if err := p.Err(); err != nil {
		return err
	}
	entries, next, err := s.deps.Checkins.CheckinList(c.UserContext(), id, since, strings.Clone(c.Query("cursor")), limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(entries, func(e ticketing.CheckinEntry) checkinEntryResponse {
		return checkinEntryResponse{TicketID: e.TicketID, SecretHash: e.SecretHash, Status: string(e.Status),
			TicketTypeID: e.TicketTypeID, TicketTypeName: e.TicketTypeName, SeatLabel: e.SeatLabel,
			AttendeeName: e.AttendeeName, CheckedInAt: utcPtr(e.CheckedInAt), CheckedInGate: e.CheckedInGate, UpdatedAt: e.UpdatedAt.UTC()}
	}, next))
}

type scanRecordResponse struct {
	ID             string    `json:"id"`
	TicketID       string    `json:"ticketId,omitempty"`
	Result         string    `json:"result"`
	Gate           string    `json:"gate,omitempty"`
	Offline        bool      `json:"offline"`
	ScannedAt      time.Time `json:"scannedAt"`
	RecordedAt     time.Time `json:"recordedAt"`
	AttendeeName   string    `json:"attendeeName,omitempty"`
	TicketTypeName string    `json:"ticketTypeName,omitempty"`
	SeatLabel      string    `json:"seatLabel,omitempty"`
}

// checkinStats is GET /v1/events/:id/checkins: check-ins by ticket type and
// gate, and the latest scans.
func (s *Server) checkinStats(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	latest := 20
	if v := c.Query("latest"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalid("latest must be between 1 and 100")
		}
		latest = n
	}
	st, err := s.deps.Checkins.CheckinStats(c.UserContext(), id, latest)
	if err != nil {
		return err
	}
	byType := make([]fiber.Map, len(st.ByType))
	total, checkedIn := 0, 0
	for i, t := range st.ByType {
		byType[i] = fiber.Map{"ticketTypeId": t.TicketTypeID, "name": t.Name, "tickets": t.Tickets, "checkedIn": t.CheckedIn}
		total, checkedIn = total+t.Tickets, checkedIn+t.CheckedIn
	}
	byGate := make([]fiber.Map, len(st.ByGate))
	for i, g := range st.ByGate {
		byGate[i] = fiber.Map{"gate": g.Gate, "checkedIn": g.CheckedIn}
	}
	scans := make([]scanRecordResponse, len(st.Latest))
	for i, r := range st.Latest {
		scans[i] = scanRecordResponse{ID: r.ID, TicketID: r.TicketID, Result: string(r.Result), Gate: r.Gate, Offline: r.Offline,
			ScannedAt: r.ScannedAt.UTC(), RecordedAt: r.RecordedAt.UTC(), AttendeeName: r.AttendeeName,
			TicketTypeName: r.TicketTypeName, SeatLabel: r.SeatLabel}
	}
	return c.JSON(fiber.Map{"tickets": total, "checkedIn": checkedIn, "byTicketType": byType, "byGate": byGate, "latest": scans})
}
