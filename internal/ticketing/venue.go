package ticketing

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits of venues and their layouts. A layout's size is checked on the
// input's counts before it is expanded, so a small body describing millions
// of seats costs nothing.
const (
	MaxVenueCapacity  = 1_000_000
	MaxLayoutSeats    = 50_000
	MaxLayoutSections = 500
	MaxLayoutRows     = 10_000
	MaxRowSeats       = 1000
)

// Venue is a place events happen at, optionally with a seat layout. Its
// capacity is the number of seats when it has a layout.
type Venue struct {
	ID        string
	Name      string
	Address   string
	City      string
	Timezone  string
	Capacity  int
	Layout    *Layout // nil when the venue has no seat layout, or when not loaded
	HasLayout bool
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Layout is a venue's seats: sections of rows of seats, in order.
type Layout struct {
	Sections []Section
}

// Section is a named part of a layout.
type Section struct {
	Name string
	Rows []Row
}

// Row is a labelled row of seats.
type Row struct {
	Label string
	Seats []Seat
}

// Seat is one seat. Label is "<row>-<seat>", unique within its section.
type Seat struct {
	ID      string
	Section string
	Row     string
	Number  string
	Label   string
}

// Count returns the number of seats.
func (l *Layout) Count() int {
	n := 0
	for _, s := range l.Sections {
		for _, r := range s.Rows {
			n += len(r.Seats)
		}
	}
	return n
}

// Seats returns every seat in layout order.
func (l *Layout) Seats() []Seat {
	var out []Seat
	for _, s := range l.Sections {
		for _, r := range s.Rows {
			out = append(out, r.Seats...)
		}
	}
	return out
}

// LayoutInput is the compact form organizers write: per row either a seat
// count (seats 1..n) or explicit seat labels.
type LayoutInput struct {
	Sections []SectionInput
}

// SectionInput is a section of LayoutInput.
type SectionInput struct {
	Name string
	Rows []RowInput
}

// RowInput is a row of LayoutInput: Count seats numbered 1..Count, or the
// seats named in Labels.
type RowInput struct {
	Label  string
	Count  int
	Labels []string
}

var seatLabelPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,10}$`)

// tooLarge reports, from the input's counts alone, why the layout it
// describes is over the limits, or "".
func (in *LayoutInput) tooLarge() string {
	if len(in.Sections) > MaxLayoutSections {
		return fmt.Sprintf("must have at most %d sections", MaxLayoutSections)
	}
	rows, seats := 0, 0
	for _, s := range in.Sections {
		rows += len(s.Rows)
		if rows > MaxLayoutRows {
			return fmt.Sprintf("must have at most %d rows", MaxLayoutRows)
		}
		for _, r := range s.Rows {
			n := max(r.Count, 0) + len(r.Labels)
			if r.Count > MaxRowSeats || len(r.Labels) > MaxRowSeats {
				return fmt.Sprintf("rows must have at most %d seats each", MaxRowSeats)
			}
			if seats += n; seats > MaxLayoutSeats {
				return fmt.Sprintf("must have at most %d seats", MaxLayoutSeats)
			}
		}
	}
	return ""
}

// Build expands the input into a layout, recording every problem in p under
// the field name prefix. An input over the limits is refused before it is
// expanded.
func (in *LayoutInput) Build(p *Problems, prefix string) *Layout {
	l := &Layout{}
	if why := in.tooLarge(); why != "" {
		p.Addf(true, "%s %s", prefix, why)
		return l
	}
	p.Addf(len(in.Sections) == 0, "%s.sections must list at least one section", prefix)
	sections := map[string]bool{}
	total := 0
	for i, s := range in.Sections {
		sp := fmt.Sprintf("%s.sections[%d]", prefix, i)
		name := strings.TrimSpace(s.Name)
		p.Addf(name == "" || utf8.RuneCountInString(name) > 60 || strings.Contains(name, ":"), "%s.name must be 1-60 characters without ':'", sp)
		p.Addf(sections[name], "%s.name %q is used by another section", sp, name)
		sections[name] = true
		p.Addf(len(s.Rows) == 0, "%s.rows must list at least one row", sp)
		sec := Section{Name: name}
		rows := map[string]bool{}
		for j, r := range s.Rows {
			rp := fmt.Sprintf("%s.rows[%d]", sp, j)
			p.Addf(!seatLabelPattern.MatchString(r.Label), "%s.label must be 1-10 letters or digits", rp)
			p.Addf(rows[r.Label], "%s.label %q is used by another row of the section", rp, r.Label)
			rows[r.Label] = true
			labels := r.Labels
			switch {
			case r.Count > 0 && len(r.Labels) > 0:
				p.Addf(true, "%s.seats must be a count or a list of labels, not both", rp)
			case r.Count > 0:
				labels = make([]string, r.Count)
				for k := range labels {
					labels[k] = fmt.Sprint(k + 1)
				}
			case len(r.Labels) == 0:
				p.Addf(true, "%s.seats must be a positive count or a list of seat labels", rp)
			}
			row := Row{Label: r.Label}
			seen := map[string]bool{}
			for _, sl := range labels {
				if !seatLabelPattern.MatchString(sl) || seen[sl] {
					p.Addf(true, "%s.seats: %q must be 1-10 letters or digits, once per row", rp, sl)
					break
				}
				seen[sl] = true
				row.Seats = append(row.Seats, Seat{Section: name, Row: r.Label, Number: sl, Label: r.Label + "-" + sl})
			}
			total += len(row.Seats)
			sec.Rows = append(sec.Rows, row)
		}
		l.Sections = append(l.Sections, sec)
	}
	p.Addf(total > MaxLayoutSeats, "%s must have at most %d seats", prefix, MaxLayoutSeats)
	return l
}

// NewVenue is the input to create a venue.
type NewVenue struct {
	Name     string
	Address  string
	City     string
	Timezone string
	Capacity *int
	Layout   *LayoutInput
	// Built is set by Validate: the expanded layout.
	Built *Layout
}

// Validate normalizes the input, expands the layout and reports every problem.
func (n *NewVenue) Validate() error {
	var p Problems
	n.Name, n.Address, n.City = strings.TrimSpace(n.Name), strings.TrimSpace(n.Address), strings.TrimSpace(n.City)
	validateVenueText(&p, n.Name, n.Address, n.City)
	validateTimezone(&p, n.Timezone)
	n.Built, n.Capacity = venueCapacity(&p, n.Capacity, n.Layout)
	return p.Err()
}

// VenueUpdate changes a venue; nil fields are unchanged. A new Layout
// replaces the old one, which is refused while a ticket type sells its seats.
type VenueUpdate struct {
	Name     *string
	Address  *string
	City     *string
	Timezone *string
	Capacity *int
	Layout   *LayoutInput
	Version  int
	// Built is set by Validate: the expanded new layout, if any.
	Built *Layout
}

// Validate normalizes the update and reports every problem with it.
func (u *VenueUpdate) Validate() error {
	var p Problems
	name := "unchanged"
	if u.Name != nil {
		name = trimPtr(u.Name)
	}
	validateVenueText(&p, name, trimPtr(u.Address), trimPtr(u.City))
	if u.Timezone != nil {
		validateTimezone(&p, *u.Timezone)
	}
	if u.Capacity != nil || u.Layout != nil {
		u.Built, u.Capacity = venueCapacity(&p, u.Capacity, u.Layout)
	}
	p.Addf(u.Version < 1, "version is required: send the version you last read")
	return p.Err()
}

// trimPtr trims *s in place and returns it; nil reads as "".
func trimPtr(s *string) string {
	if s == nil {
		return ""
	}
	*s = strings.TrimSpace(*s)
	return *s
}

func validateVenueText(p *Problems, name, address, city string) {
	p.Addf(name == "" || utf8.RuneCountInString(name) > 200, "name must be 1-200 characters")
	p.Addf(utf8.RuneCountInString(address) > 300, "address must be at most 300 characters")
	p.Addf(utf8.RuneCountInString(city) > 100, "city must be at most 100 characters")
}

// validateTimezone accepts IANA zone names such as Africa/Lagos.
func validateTimezone(p *Problems, tz string) {
	_, err := time.LoadLocation(tz)
	p.Addf(tz == "" || tz == "Local" || err != nil, "timezone must be an IANA time zone such as Africa/Lagos")
}

// locations caches loaded time zones: loading one reads the zone database.
// Its keys are venues' stored zones, so it stays small.
var locations sync.Map

// Location is the time zone a venue's times are shown in: its IANA zone,
// or UTC for a name that is not one (none, or "Local", which the server's
// clock would decide).
func Location(name string) *time.Location {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		l = time.UTC
	}
	locations.Store(name, l)
	return l
}

// venueCapacity derives the capacity from the layout when there is one, and
// otherwise requires an explicit one.
func venueCapacity(p *Problems, capacity *int, in *LayoutInput) (*Layout, *int) {
	if in == nil {
		p.Addf(capacity == nil || *capacity < 1 || *capacity > MaxVenueCapacity,
			"capacity must be 1-%d when the venue has no seat layout", MaxVenueCapacity)
		return nil, capacity
	}
	l := in.Build(p, "layout")
	n := l.Count()
	p.Addf(capacity != nil && *capacity != n, "capacity is derived from the layout (%d seats); leave it out", n)
	return l, &n
}

// VenueService manages the venues of the context's tenant.
type VenueService interface {
	// CreateVenue creates a venue with its seats.
	CreateVenue(ctx context.Context, n NewVenue) (*Venue, error)
	// FindVenueByID returns a venue with its layout, or KindNotFound.
	FindVenueByID(ctx context.Context, id string) (*Venue, error)
	// FindVenues returns one page of venues (without layouts), oldest first.
	FindVenues(ctx context.Context, page Page) ([]*Venue, string, error)
	// UpdateVenue applies u. Returns KindConflict (STALE_VERSION) for a stale
	// version and (LAYOUT_IN_USE) for a new layout while ticket types sell
	// seats of the old one.
	UpdateVenue(ctx context.Context, id string, u VenueUpdate) (*Venue, error)
	// DeleteVenue deletes a venue that no event uses, or returns KindConflict
	// (VENUE_IN_USE). version, when not nil, must match.
	DeleteVenue(ctx context.Context, id string, version *int) error
}
