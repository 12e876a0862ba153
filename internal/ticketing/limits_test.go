package ticketing

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// rows returns n rows of count seats each, labelled R1…Rn.
func rows(n, count int) []RowInput {
	out := make([]RowInput, n)
	for i := range out {
		out[i] = RowInput{Label: "R" + strconv.Itoa(i+1), Count: count}
	}
	return out
}

func venueWith(sections ...SectionInput) *NewVenue {
	return &NewVenue{Name: "Hall", Timezone: "Africa/Lagos", Layout: &LayoutInput{Sections: sections}}
}

// TestLayoutOverTheLimitsIsRefusedBeforeExpanding: a small body can
// describe millions of seats; it is refused on its counts, with one message
// and without building a seat of it.
func TestLayoutOverTheLimitsIsRefusedBeforeExpanding(t *testing.T) {
	many := make([]SectionInput, 500+1)
	for i := range many {
		many[i] = SectionInput{Name: "S" + strconv.Itoa(i+1), Rows: rows(1, 1)}
	}
	for name, tc := range map[string]struct {
		venue *NewVenue
		want  string
	}{
		"8000RowsOf1000Seats":   {venueWith(SectionInput{Name: "Floor", Rows: rows(8000, 1000)}), "at most 50000 seats"},
		"tooManyRows":           {venueWith(SectionInput{Name: "Floor", Rows: rows(10000+1, 1)}), "at most 10000 rows"},
		"tooManySections":       {venueWith(many...), "at most 500 sections"},
		"aRowOverItsCount":      {venueWith(SectionInput{Name: "Floor", Rows: []RowInput{{Label: "A", Count: 1 << 40}}}), "at most 1000 seats each"},
		"aRowOverItsLabels":     {venueWith(SectionInput{Name: "Floor", Rows: []RowInput{{Label: "A", Labels: make([]string, 1000+1)}}}), "at most 1000 seats each"},
		"seatsJustOverTheLimit": {venueWith(SectionInput{Name: "Floor", Rows: append(rows(50, 1000), RowInput{Label: "X", Count: 1})}), "at most 50000 seats"},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(1, func() { err = tc.venue.Validate() })
			e := AsError(err)
			if e == nil || e.Kind != KindInvalid || len(e.Messages) != 1 || !strings.Contains(e.Messages[0], tc.want) {
				t.Fatalf("got %v, want one message with %q", err, tc.want)
			}
			if allocs > 100 {
				t.Fatalf("refusing it took %.0f allocations: the layout was expanded", allocs)
			}
		})
	}
}

func TestLayoutAtTheLimitsIsAccepted(t *testing.T) {
	v := venueWith(SectionInput{Name: "Floor", Rows: rows(MaxLayoutSeats/1000, 1000)})
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	if n := v.Built.Count(); n != MaxLayoutSeats {
		t.Fatalf("%d seats, want %d", n, MaxLayoutSeats)
	}
}

// TestBookingWithThousandsOfEntriesGetsOneMessage: the count is checked
// before the entries are.
func TestBookingWithThousandsOfEntriesGetsOneMessage(t *testing.T) {
	b := &NewBooking{EventID: uuid.NewString(), Seats: make([]string, 20000)}
	e := AsError(b.Validate())
	if e == nil || e.Kind != KindInvalid || len(e.Messages) != 1 || !strings.Contains(e.Messages[0], "at most 100 tickets") {
		t.Fatalf("got %v", e)
	}
}

func TestSeatedTicketTypeSelectionIsBounded(t *testing.T) {
	price := int64(100)
	tt := &NewTicketType{Name: "Floor", Kind: Seated, Price: &price, Seats: SeatSelection{Seats: make([]string, MaxLayoutSeats+1)}}
	if e := AsError(tt.Validate()); e == nil || !strings.Contains(strings.Join(e.Messages, ";"), "at most 50000 seats") {
		t.Fatalf("got %v", e)
	}
}

func TestProblemsAreBounded(t *testing.T) {
	var p Problems
	for i := range 10 * 50 {
		p.Addf(true, "problem %d", i)
	}
	if len(p) != 50+1 || !strings.Contains(p[50], "only the first 50") {
		t.Fatalf("%d messages, last %q", len(p), p[len(p)-1])
	}
}
