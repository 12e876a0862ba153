package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qListTickets           = query("ListTickets")
	qSelectTicket          = query("SelectTicket")
	qLockTicket            = query("LockTicket")
	qRenameAttendee        = query("RenameAttendee")
	qTransferTicket        = query("TransferTicket")
	qSelectUserByEmail     = query("SelectUserByEmail")
	qListCheckinKeys       = query("ListCheckinKeys")
	qInsertFirstCheckinKey = query("InsertFirstCheckinKey")
	qRetireCheckinKey      = query("RetireCheckinKey")
	qInsertCheckinKey      = query("InsertCheckinKey")
	qLockTenantKeys        = query("LockTenantKeys")
)

// PublicKeys gives the public key of a tenant's check-in key version
// (checkin.Signer.PublicKey).
type PublicKeys func(tenantID string, version int) []byte

// TicketService implements ticketing.TicketService.
type TicketService struct {
	db   *DB
	keys PublicKeys
	now  func() time.Time
}

var _ ticketing.TicketService = (*TicketService)(nil)

// NewTicketService returns a TicketService on db.
func NewTicketService(db *DB, keys PublicKeys) *TicketService {
	return &TicketService{db: db, keys: keys, now: time.Now}
}

func scanTicket(row pgx.Row) (*ticketing.Ticket, error) {
	var t ticketing.Ticket
	var seatID *string
	err := row.Scan(&t.ID, &t.BookingID, &t.EventID, &t.EventTitle, &t.EventStartsAt, &t.EventEndsAt, &t.VenueName,
		&t.VenueTimezone, &t.TicketTypeID, &t.TicketTypeName, &seatID, &t.Section, &t.SeatLabel, &t.HolderID, &t.AttendeeName,
		&t.Status, &t.Secret, &t.CheckedInAt, &t.CheckedInGate, &t.Version, &t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if seatID != nil {
		t.SeatID = *seatID
	}
	return &t, nil
}

// FindTickets implements ticketing.TicketService.
func (s *TicketService) FindTickets(ctx context.Context, f ticketing.TicketFilter) ([]*ticketing.Ticket, string, error) {
	after, afterID, err := cursorArgs(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	if holder := ticketing.OwnerScope(ctx); holder != "" {
		f.HolderID = holder
	}
	size := f.Page.Size()
	var tickets []*ticketing.Ticket
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qListTickets, after, afterID, nullIfEmpty(f.HolderID), nullIfEmpty(f.EventID), nullIfEmpty(f.BookingID), size+1)
		if err != nil {
			return err
		}
		tickets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.Ticket, error) { return scanTicket(r) })
		return err
	})
	if err != nil {
		return nil, "", translate(err, "ticket")
	}
	tickets, next := trimPage(tickets, size, func(t *ticketing.Ticket) (time.Time, string) { return t.CreatedAt, t.ID })
	return tickets, next, nil
}

// FindTicket implements ticketing.TicketService.
func (s *TicketService) FindTicket(ctx context.Context, id string) (*ticketing.Ticket, error) {
	if !ticketing.ValidID(id) {
		return nil, ticketing.NotFound("ticket")
	}
	var t *ticketing.Ticket
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = scanTicket(tx.QueryRow(ctx, qSelectTicket, id, nullIfEmpty(ticketing.OwnerScope(ctx))))
		return err
	})
	return t, translate(err, "ticket")
}

// changeTicket locks a ticket the actor may change, checks that it is
// valid and its event has not started, runs change and returns the ticket
// as it is then.
func (s *TicketService) changeTicket(ctx context.Context, id string, version *int, change func(tx pgx.Tx, t *ticketing.Ticket) error) (*ticketing.Ticket, error) {
	if !ticketing.ValidID(id) {
		return nil, ticketing.NotFound("ticket")
	}
	holder := nullIfEmpty(ticketing.OwnerScope(ctx))
	var t *ticketing.Ticket
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var locked string
		if err := tx.QueryRow(ctx, qLockTicket, id, holder).Scan(&locked); err != nil {
			return err
		}
		cur, err := scanTicket(tx.QueryRow(ctx, qSelectTicket, id, nil))
		if err != nil {
			return err
		}
		switch {
		case version != nil && *version != cur.Version:
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeStaleVersion, "the ticket is at version %d, not %d", cur.Version, *version)
		case cur.Status != ticketing.TicketValid:
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeInvalidState, "the ticket is %s; only a valid ticket can be changed", strings.ReplaceAll(string(cur.Status), "_", " "))
		case !s.now().Before(cur.EventStartsAt):
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeEventStarted, "the event has started; the ticket can no longer be changed")
		}
		if err := change(tx, cur); err != nil {
			return err
		}
		t, err = scanTicket(tx.QueryRow(ctx, qSelectTicket, id, nil))
		return err
	})
	return t, translate(err, "ticket")
}

// RenameAttendee implements ticketing.TicketService.
func (s *TicketService) RenameAttendee(ctx context.Context, id, name string, version *int) (*ticketing.Ticket, error) {
	name, err := ticketing.CleanAttendeeName(name)
	if err != nil {
		return nil, err
	}
	return s.changeTicket(ctx, id, version, func(tx pgx.Tx, cur *ticketing.Ticket) error {
		if _, err := tx.Exec(ctx, qRenameAttendee, id, name); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "ticket.rename", "ticket", id, map[string]any{"bookingId": cur.BookingID})
	})
}

// TransferTicket implements ticketing.TicketService.
func (s *TicketService) TransferTicket(ctx context.Context, id, email string) (*ticketing.Ticket, error) {
	email, ok := ticketing.NormalizeEmail(email)
	if !ok {
		return nil, ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, "email must be an email address")
	}
	return s.changeTicket(ctx, id, nil, func(tx pgx.Tx, cur *ticketing.Ticket) error {
		var to, name string
		err := tx.QueryRow(ctx, qSelectUserByEmail, email).Scan(&to, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeValidation, "the organizer has no account with that email; its owner must sign up first")
		}
		if err != nil {
			return err
		}
		if to == cur.HolderID {
			return ticketing.Errorf(ticketing.KindUnprocessable, ticketing.CodeValidation, "the ticket is already held by that account")
		}
		if _, err := tx.Exec(ctx, qTransferTicket, id, to, name); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "ticket.transfer", "ticket", id, map[string]any{"bookingId": cur.BookingID, "from": cur.HolderID, "to": to})
	})
}

// CheckinKeys implements ticketing.TicketService.
func (s *TicketService) CheckinKeys(ctx context.Context) ([]ticketing.CheckinKey, error) {
	var keys []ticketing.CheckinKey
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		if keys, err = s.listKeys(ctx, tx); err != nil || len(keys) > 0 {
			return err
		}
		// The tenant's first use: only then is anything written, so the
		// public key list and every ticket read stay reads.
		if _, err := tx.Exec(ctx, qInsertFirstCheckinKey); err != nil {
			return err
		}
		keys, err = s.listKeys(ctx, tx)
		return err
	})
	return keys, translate(err, "check-in key")
}

// RotateCheckinKey implements ticketing.TicketService.
func (s *TicketService) RotateCheckinKey(ctx context.Context) ([]ticketing.CheckinKey, error) {
	var keys []ticketing.CheckinKey
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qLockTenantKeys); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qInsertFirstCheckinKey); err != nil {
			return err
		}
		var retired int
		if err := tx.QueryRow(ctx, qRetireCheckinKey).Scan(&retired); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qInsertCheckinKey, retired+1); err != nil {
			return err
		}
		var err error
		if keys, err = s.listKeys(ctx, tx); err != nil {
			return err
		}
		return writeAudit(ctx, tx, "checkin_key.rotate", "checkin_key", "", map[string]any{"retired": retired, "active": retired + 1})
	})
	return keys, translate(err, "check-in key")
}

func (s *TicketService) listKeys(ctx context.Context, tx pgx.Tx) ([]ticketing.CheckinKey, error) {
	tenantID := ticketing.TenantFromContext(ctx).ID
	rows, err := tx.Query(ctx, qListCheckinKeys)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.CheckinKey, error) {
		var k ticketing.CheckinKey
		err := r.Scan(&k.Version, &k.CreatedAt, &k.RetiredAt)
		k.PublicKey = s.keys(tenantID, k.Version)
		return k, err
	})
}
