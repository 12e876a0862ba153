package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qUpsertWaitingRoom = query("UpsertWaitingRoom")
	qSelectWaitingRoom = query("SelectWaitingRoom")
	qDeleteWaitingRoom = query("DeleteWaitingRoom")
)

// WaitingRoomStore keeps the waiting room configuration of events.
type WaitingRoomStore struct{ db *DB }

// NewWaitingRoomStore returns a WaitingRoomStore on db.
func NewWaitingRoomStore(db *DB) *WaitingRoomStore { return &WaitingRoomStore{db: db} }

// SaveRoom creates or replaces the room of r.EventID, audited; NotFound when
// the event is not the tenant's.
func (s *WaitingRoomStore) SaveRoom(ctx context.Context, r ticketing.WaitingRoom) (*ticketing.WaitingRoom, error) {
	var out *ticketing.WaitingRoom
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanWaitingRoom(tx.QueryRow(ctx, qUpsertWaitingRoom, r.EventID, r.Enabled, r.OpensAt,
			r.AdmitPerMinute, int(r.AdmissionWindow/time.Second)))
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, "event.waiting_room", "event", r.EventID, map[string]any{
			"enabled": r.Enabled, "opensAt": r.OpensAt, "admitPerMinute": r.AdmitPerMinute,
			"admissionWindowSeconds": int(r.AdmissionWindow / time.Second)})
	})
	return out, translate(err, "event")
}

// FindRoom returns the room of an event, NotFound when it has none (or the
// event is another tenant's).
func (s *WaitingRoomStore) FindRoom(ctx context.Context, eventID string) (*ticketing.WaitingRoom, error) {
	if !ticketing.ValidID(eventID) {
		return nil, ticketing.NotFound("waiting room")
	}
	var out *ticketing.WaitingRoom
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanWaitingRoom(tx.QueryRow(ctx, qSelectWaitingRoom, eventID))
		return err
	})
	return out, translate(err, "waiting room")
}

// DeleteRoom removes the room of an event, audited; NotFound when it has
// none.
func (s *WaitingRoomStore) DeleteRoom(ctx context.Context, eventID string) error {
	if !ticketing.ValidID(eventID) {
		return ticketing.NotFound("waiting room")
	}
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qDeleteWaitingRoom, eventID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return writeAudit(ctx, tx, "event.waiting_room_delete", "event", eventID, map[string]any{})
	})
	return translate(err, "waiting room")
}

func scanWaitingRoom(row pgx.Row) (*ticketing.WaitingRoom, error) {
	var (
		r      ticketing.WaitingRoom
		window int
	)
	if err := row.Scan(&r.EventID, &r.Enabled, &r.OpensAt, &r.AdmitPerMinute, &window, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	r.AdmissionWindow = time.Duration(window) * time.Second
	return &r, nil
}
