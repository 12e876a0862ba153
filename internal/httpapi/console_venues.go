package httpapi

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// The console's venues (/admin/venues): the organizer's venues, and the
// form of one with its seat-layout editor. The page renders the stored
// layout as the editor's form controls; the script (console-venues.js)
// adds and removes sections and rows, draws the preview, saves through
// POST or PATCH /v1/venues and deletes through DELETE /v1/venues/{id}.

// consoleTimezones are offered in the venue form's time zone list; any
// IANA name may be typed.
var consoleTimezones = []string{
	"Africa/Lagos", "Africa/Accra", "Africa/Nairobi", "Africa/Johannesburg", "Africa/Cairo",
	"Europe/London", "Europe/Paris", "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Dubai", "UTC",
}

// venueRowForm is a row of the layout editor: Seats is the count ("20")
// when the row's seats are numbered 1..n, else its seat labels, joined by
// commas (ByLabels). Key makes the ids of its controls unique.
type venueRowForm struct {
	Key      string
	Label    string
	ByLabels bool
	Seats    string
}

// venueSectionForm is a section of the layout editor.
type venueSectionForm struct {
	Key  string
	Name string
	Rows []venueRowForm
}

type consoleVenue struct {
	Venue     *venueResponse
	Sections  []venueSectionForm
	Timezones []string
	// NewSection and NewRow are the markup the script copies to add a
	// section or a row; "__K__" in their ids is replaced by a fresh key.
	NewSection venueSectionForm
	NewRow     venueRowForm
}

// toVenueForm converts a stored layout into the editor's sections and
// rows.
func toVenueForm(l *ticketing.Layout) []venueSectionForm {
	if l == nil {
		return nil
	}
	out := make([]venueSectionForm, 0, len(l.Sections))
	for i, s := range l.Sections {
		sec := venueSectionForm{Key: "s" + strconv.Itoa(i), Name: s.Name}
		for j, r := range s.Rows {
			row := venueRowForm{Key: sec.Key + "r" + strconv.Itoa(j), Label: r.Label}
			numbers := make([]string, 0, len(r.Seats))
			for k, seat := range r.Seats {
				numbers = append(numbers, seat.Number)
				if seat.Number != strconv.Itoa(k+1) {
					row.ByLabels = true
				}
			}
			row.Seats = strconv.Itoa(len(r.Seats))
			if row.ByLabels {
				row.Seats = strings.Join(numbers, ", ")
			}
			sec.Rows = append(sec.Rows, row)
		}
		out = append(out, sec)
	}
	return out
}

// consoleVenues lists the organizer's venues; ?deleted=1 is where the
// venue form's script goes after deleting one, and says so.
func (s *Server) consoleVenues(c *fiber.Ctx) error {
	venues, _, err := s.deps.Venues.FindVenues(c.UserContext(), ticketing.Page{Limit: ticketing.MaxPageSize})
	if err != nil {
		return err
	}
	data := struct {
		Venues  []venueResponse
		Deleted bool
	}{Deleted: c.Query("deleted") == "1"}
	for _, v := range venues {
		data.Venues = append(data.Venues, toVenueResponse(v))
	}
	return s.shopPage(c, fiber.StatusOK, "Venues", "admin_venues", data)
}

// consoleVenue is the form of a new venue, or of a venue with its stored
// layout.
func (s *Server) consoleVenue(c *fiber.Ctx) error {
	data := consoleVenue{Timezones: consoleTimezones,
		NewSection: venueSectionForm{Key: "__K__", Rows: []venueRowForm{{Key: "__K__r0"}}},
		NewRow:     venueRowForm{Key: "__K__"}}
	title := "New venue"
	if c.Params("id") != "" {
		id, err := pathID(c, "venue")
		if err != nil {
			return err
		}
		v, err := s.deps.Venues.FindVenueByID(c.UserContext(), id)
		if err != nil {
			return err
		}
		r := toVenueResponse(v)
		data.Venue, data.Sections, title = &r, toVenueForm(v.Layout), v.Name
	}
	return s.shopPage(c, fiber.StatusOK, title, "admin_venue", data)
}
