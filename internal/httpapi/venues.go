package httpapi

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// layoutRequest is the compact layout organizers send: each row has
// "seats": 20 (numbered 1..20) or "seats": ["1", "2", "5"].
type layoutRequest struct {
	Sections []struct {
		Name string `json:"name"`
		Rows []struct {
			Label string          `json:"label"`
			Seats json.RawMessage `json:"seats"`
		} `json:"rows"`
	} `json:"sections"`
}

// toInput converts the request, refusing rows whose seats are neither a
// count nor a list of labels.
func (l *layoutRequest) toInput() (*ticketing.LayoutInput, error) {
	if l == nil {
		return nil, nil
	}
	var p ticketing.Problems
	in := &ticketing.LayoutInput{}
	for i, s := range l.Sections {
		sec := ticketing.SectionInput{Name: s.Name}
		for j, r := range s.Rows {
			row := ticketing.RowInput{Label: r.Label}
			if json.Unmarshal(r.Seats, &row.Count) != nil && json.Unmarshal(r.Seats, &row.Labels) != nil {
				p.Addf(true, "layout.sections[%d].rows[%d].seats must be a number or a list of seat labels", i, j)
			}
			sec.Rows = append(sec.Rows, row)
		}
		in.Sections = append(in.Sections, sec)
	}
	return in, p.Err()
}

type createVenueRequest struct {
	Name     string         `json:"name"`
	Address  string         `json:"address"`
	City     string         `json:"city"`
	Timezone string         `json:"timezone"`
	Capacity *int           `json:"capacity"`
	Layout   *layoutRequest `json:"layout"`
}

type venueResponse struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Address   string          `json:"address"`
	City      string          `json:"city"`
	Timezone  string          `json:"timezone"`
	Capacity  int             `json:"capacity"`
	HasLayout bool            `json:"hasLayout"`
	Layout    *layoutResponse `json:"layout,omitempty"`
	Version   int             `json:"version"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

type layoutResponse struct {
	Sections []sectionResponse `json:"sections"`
}

type sectionResponse struct {
	Name string        `json:"name"`
	Rows []rowResponse `json:"rows"`
}

type rowResponse struct {
	Label string         `json:"label"`
	Seats []seatResponse `json:"seats"`
}

type seatResponse struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

func toVenueResponse(v *ticketing.Venue) venueResponse {
	r := venueResponse{ID: v.ID, Name: v.Name, Address: v.Address, City: v.City, Timezone: v.Timezone,
		Capacity: v.Capacity, HasLayout: v.HasLayout, Version: v.Version, CreatedAt: v.CreatedAt.UTC(), UpdatedAt: v.UpdatedAt.UTC()}
	if v.Layout != nil {
		r.Layout = &layoutResponse{Sections: []sectionResponse{}}
		for _, s := range v.Layout.Sections {
			sec := sectionResponse{Name: s.Name}
			for _, row := range s.Rows {
				rr := rowResponse{Label: row.Label}
				for _, st := range row.Seats {
					rr.Seats = append(rr.Seats, seatResponse{ID: st.ID, Label: st.Label})
				}
				sec.Rows = append(sec.Rows, rr)
			}
			r.Layout.Sections = append(r.Layout.Sections, sec)
		}
	}
	return r
}

func (s *Server) createVenue(c *fiber.Ctx) error {
	var req createVenueRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	layout, err := req.Layout.toInput()
	if err != nil {
		return err
	}
	v, err := s.deps.Venues.CreateVenue(c.UserContext(), ticketing.NewVenue{
		Name: req.Name, Address: req.Address, City: req.City, Timezone: req.Timezone, Capacity: req.Capacity, Layout: layout,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toVenueResponse(v))
}

func (s *Server) listVenues(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	venues, next, err := s.deps.Venues.FindVenues(c.UserContext(), page)
	if err != nil {
		return err
	}
	return c.JSON(listOf(venues, toVenueResponse, next))
}

func (s *Server) getVenue(c *fiber.Ctx) error {
	id, err := pathID(c, "venue")
	if err != nil {
		return err
	}
	v, err := s.deps.Venues.FindVenueByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toVenueResponse(v))
}

type updateVenueRequest struct {
	Name     *string        `json:"name"`
	Address  *string        `json:"address"`
	City     *string        `json:"city"`
	Timezone *string        `json:"timezone"`
	Capacity *int           `json:"capacity"`
	Layout   *layoutRequest `json:"layout"`
	Version  int            `json:"version"`
}

func (s *Server) updateVenue(c *fiber.Ctx) error {
	id, err := pathID(c, "venue")
	if err != nil {
		return err
	}
	var req updateVenueRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	layout, err := req.Layout.toInput()
	if err != nil {
		return err
	}
	v, err := s.deps.Venues.UpdateVenue(c.UserContext(), id, ticketing.VenueUpdate{
		Name: req.Name, Address: req.Address, City: req.City, Timezone: req.Timezone,
		Capacity: req.Capacity, Layout: layout, Version: req.Version,
	})
	if err != nil {
		return err
	}
	return c.JSON(toVenueResponse(v))
}

func (s *Server) deleteVenue(c *fiber.Ctx) error {
	id, err := pathID(c, "venue")
	if err != nil {
		return err
	}
	version, err := queryVersion(c)
	if err != nil {
		return err
	}
	if err := s.deps.Venues.DeleteVenue(c.UserContext(), id, version); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// queryVersion reads the optional ?version= of deletes.
func queryVersion(c *fiber.Ctx) (*int, error) {
	if c.Query("version") == "" {
		return nil, nil
	}
	v, err := queryInt(c, "version")
	return &v, err
}

// pageOf reads ?limit= and ?cursor=.
func pageOf(c *fiber.Ctx) (ticketing.Page, error) {
	limit, err := queryInt(c, "limit")
	if err != nil {
		return ticketing.Page{}, err
	}
	return ticketing.Page{Limit: limit, Cursor: strings.Clone(c.Query("cursor"))}, nil
}
