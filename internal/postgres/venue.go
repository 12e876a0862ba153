package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qInsertVenue  = query("InsertVenue")
	qInsertSeats  = query("InsertSeats")
	qSelectVenue  = query("SelectVenue")
	qLockVenue    = query("LockVenue")
	qSelectSeats  = query("SelectSeats")
	qListVenues   = query("ListVenues")
	qUpdateVenue  = query("UpdateVenue")
	qDeleteSeats  = query("DeleteSeats")
	qDeleteVenue  = query("DeleteVenue")
	qLargestEvent = query("LargestEventAtVenue")
)

// codeForeignKeyViolation is raised when a delete would orphan a reference.
const codeForeignKeyViolation = "23503"

// VenueService implements ticketing.VenueService.
type VenueService struct{ db *DB }

var _ ticketing.VenueService = (*VenueService)(nil)

// NewVenueService returns a VenueService on db.
func NewVenueService(db *DB) *VenueService { return &VenueService{db: db} }

// CreateVenue implements ticketing.VenueService.
func (s *VenueService) CreateVenue(ctx context.Context, n ticketing.NewVenue) (*ticketing.Venue, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	var v *ticketing.Venue
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		v, err = scanVenue(tx.QueryRow(ctx, qInsertVenue, n.Name, n.Address, n.City, n.Timezone, *n.Capacity, n.Built != nil))
		if err != nil {
			return err
		}
		if n.Built != nil {
			if v.Layout, err = insertLayout(ctx, tx, v.ID, n.Built); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, "venue.create", "venue", v.ID, map[string]any{"name": v.Name, "capacity": v.Capacity})
	})
	return v, translate(err, "venue")
}

// insertLayout writes the seats of l and returns the layout with seat ids.
func insertLayout(ctx context.Context, tx pgx.Tx, venueID string, l *ticketing.Layout) (*ticketing.Layout, error) {
	seats := l.Seats()
	sections, rows, numbers := make([]string, len(seats)), make([]string, len(seats)), make([]string, len(seats))
	for i, st := range seats {
		sections[i], rows[i], numbers[i] = st.Section, st.Row, st.Number
	}
	if _, err := tx.Exec(ctx, qInsertSeats, venueID, sections, rows, numbers); err != nil {
		return nil, err
	}
	return selectLayout(ctx, tx, venueID)
}

// selectLayout reads a venue's seats back into sections and rows.
func selectLayout(ctx context.Context, tx pgx.Tx, venueID string) (*ticketing.Layout, error) {
	rows, err := tx.Query(ctx, qSelectSeats, venueID)
	if err != nil {
		return nil, err
	}
	seats, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.Seat, error) {
		var st ticketing.Seat
		return st, r.Scan(&st.ID, &st.Section, &st.Row, &st.Number, &st.Label)
	})
	if err != nil {
		return nil, err
	}
	l := &ticketing.Layout{}
	for _, st := range seats {
		if n := len(l.Sections); n == 0 || l.Sections[n-1].Name != st.Section {
			l.Sections = append(l.Sections, ticketing.Section{Name: st.Section})
		}
		sec := &l.Sections[len(l.Sections)-1]
		if n := len(sec.Rows); n == 0 || sec.Rows[n-1].Label != st.Row {
			sec.Rows = append(sec.Rows, ticketing.Row{Label: st.Row})
		}
		row := &sec.Rows[len(sec.Rows)-1]
		row.Seats = append(row.Seats, st)
	}
	return l, nil
}

// FindVenueByID implements ticketing.VenueService.
func (s *VenueService) FindVenueByID(ctx context.Context, id string) (*ticketing.Venue, error) {
	var v *ticketing.Venue
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		if v, err = scanVenue(tx.QueryRow(ctx, qSelectVenue, id)); err != nil {
			return err
		}
		if v.HasLayout {
			v.Layout, err = selectLayout(ctx, tx, id)
		}
		return err
	})
	return v, translate(err, "venue")
}

// FindVenues implements ticketing.VenueService.
func (s *VenueService) FindVenues(ctx context.Context, page ticketing.Page) ([]*ticketing.Venue, string, error) {
	after, afterID, err := cursorArgs(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	size := page.Size()
	var venues []*ticketing.Venue
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qListVenues, after, afterID, size+1)
		if err != nil {
			return err
		}
		venues, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.Venue, error) { return scanVenue(r) })
		return err
	})
	if err != nil {
		return nil, "", translate(err, "venue")
	}
	venues, next := trimPage(venues, size, func(x *ticketing.Venue) (time.Time, string) { return x.CreatedAt, x.ID })
	return venues, next, nil
}

// UpdateVenue implements ticketing.VenueService.
func (s *VenueService) UpdateVenue(ctx context.Context, id string, u ticketing.VenueUpdate) (*ticketing.Venue, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	var v *ticketing.Venue
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		if v, err = scanVenue(tx.QueryRow(ctx, qLockVenue, id)); err != nil {
			return err
		}
		if err := checkVersion(v.Version, &u.Version, "venue"); err != nil {
			return err
		}
		if u.Capacity != nil && u.Built == nil && v.HasLayout {
			return ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, "capacity is derived from the venue's seat layout; send a new layout instead")
		}
		setIf(&v.Name, u.Name)
		setIf(&v.Address, u.Address)
		setIf(&v.City, u.City)
		setIf(&v.Timezone, u.Timezone)
		setIf(&v.Capacity, u.Capacity)
		if u.Capacity != nil {
			var largest int
			if err := tx.QueryRow(ctx, qLargestEvent, id).Scan(&largest); err != nil {
				return err
			}
			if largest > *u.Capacity {
				return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeCapacityExceeded,
					"an event at this venue sells %d tickets, more than a capacity of %d", largest, *u.Capacity)
			}
		}
		if u.Built != nil {
			if _, err := tx.Exec(ctx, qDeleteSeats, id); err != nil {
				if pe := pgError(err); pe != nil && pe.Code == codeForeignKeyViolation {
					return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeLayoutInUse,
						"ticket types sell seats of the current layout; remove their seats before replacing the layout")
				}
				return err
			}
			if v.Layout, err = insertLayout(ctx, tx, id, u.Built); err != nil {
				return err
			}
			v.HasLayout = true
		} else if v.HasLayout {
			if v.Layout, err = selectLayout(ctx, tx, id); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, qUpdateVenue, id, v.Name, v.Address, v.City, v.Timezone, v.Capacity, v.HasLayout).Scan(&v.Version, &v.UpdatedAt); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "venue.update", "venue", id, map[string]any{"version": v.Version, "layoutReplaced": u.Built != nil})
	})
	return v, translate(err, "venue")
}

// DeleteVenue implements ticketing.VenueService.
func (s *VenueService) DeleteVenue(ctx context.Context, id string, version *int) error {
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		v, err := scanVenue(tx.QueryRow(ctx, qLockVenue, id))
		if err != nil {
			return err
		}
		if err := checkVersion(v.Version, version, "venue"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qDeleteVenue, id); err != nil {
			if pe := pgError(err); pe != nil && pe.Code == codeForeignKeyViolation {
				return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeVenueInUse, "events use this venue (deleted events too); it cannot be deleted")
			}
			return err
		}
		return writeAudit(ctx, tx, "venue.delete", "venue", id, map[string]any{"name": v.Name})
	})
	return translate(err, "venue")
}

// checkVersion compares the version a client sent (nil: none sent, which is
// accepted only where the version is optional) with the current one.
func checkVersion(current int, sent *int, what string) error {
	if sent != nil && *sent != current {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeStaleVersion,
			"the %s was changed since you read it (version %d, you sent %d); reload and retry", what, current, *sent)
	}
	return nil
}

func scanVenue(row pgx.Row) (*ticketing.Venue, error) {
	var v ticketing.Venue
	err := row.Scan(&v.ID, &v.Name, &v.Address, &v.City, &v.Timezone, &v.Capacity, &v.HasLayout, &v.Version, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
