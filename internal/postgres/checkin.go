package postgres

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qCheckInTicket       = query("CheckInTicket")
	qLockTicketBySecret  = query("LockTicketBySecret")
	qEventExists         = query("EventExists")
	qInsertScan          = query("InsertScan")
	qCheckinList         = query("CheckinList")
	qCheckinCountsByType = query("CheckinCountsByType")
	qCheckinCountsByGate = query("CheckinCountsByGate")
	qLatestScans         = query("LatestScans")
)

var _ ticketing.CheckinService = (*TicketService)(nil)

// CheckIn implements ticketing.CheckinService. Each scan locks its ticket,
// so of two scans of one ticket at the same moment one finds it valid and
// the other checked in.
func (s *TicketService) CheckIn(ctx context.Context, eventID string, scans []ticketing.Scan, offline bool) ([]ticketing.ScanOutcome, error) {
	now := s.now()
	var p ticketing.Problems
	p.Addf(len(scans) == 0, "scans must list at least one scan")
	p.Addf(len(scans) > ticketing.MaxBatchScans, "at most %d scans at once", ticketing.MaxBatchScans)
	if p.Err() == nil {
		for i, sc := range scans {
			sc.Validate(&p, scanAt(offline, i))
			if offline {
				p.Addf(sc.ScannedAt.IsZero(), "scans[%d].scannedAt is required", i)
				p.Addf(sc.ScannedAt.After(now.Add(ticketing.MaxScanClockLag)), "scans[%d].scannedAt is in the future", i)
			} else {
				scans[i].ScannedAt = now
			}
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !ticketing.ValidID(eventID) {
		return nil, ticketing.NotFound("event")
	}
	// Earliest first, so that of an offline device's scans the first is
	// the one recorded; answers keep the order of the request.
	order := make([]int, len(scans))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return scans[a].ScannedAt.Compare(scans[b].ScannedAt) })
	actor, _ := ticketing.ActorFromContext(ctx)
	tenantID := ticketing.TenantFromContext(ctx).ID
	out := make([]ticketing.ScanOutcome, len(scans))
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if err := requireEvent(ctx, tx, eventID); err != nil {
			return err
		}
		keys, err := s.listKeys(ctx, tx)
		if err != nil {
			return err
		}
		active := map[int]ed25519.PublicKey{}
		for _, k := range keys {
			if k.RetiredAt == nil {
				active[k.Version] = k.PublicKey
			}
		}
		for _, i := range order {
			sc := scans[i]
			secret := sc.Secret
			if sc.Payload != "" {
				pl, err := checkin.Verify(sc.Payload, active)
				if err != nil || pl.TenantID != tenantID {
					secret = ""
				} else {
					secret = pl.Secret
				}
			}
			if out[i], err = s.scan(ctx, tx, eventID, secret, sc, offline); err != nil {
				return err
			}
			var ticketID *string
			if out[i].Ticket != nil {
				ticketID = &out[i].Ticket.ID
			}
			if _, err := tx.Exec(ctx, qInsertScan, eventID, ticketID, string(out[i].Result), sc.Gate, offline, actor.UserID, sc.ScannedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "event")
	}
	return out, nil
}

// scan applies one scan of the ticket with secret.
func (s *TicketService) scan(ctx context.Context, tx pgx.Tx, eventID, secret string, sc ticketing.Scan, offline bool) (ticketing.ScanOutcome, error) {
	if b, err := hex.DecodeString(secret); err != nil || len(b) != 16 {
		return ticketing.ScanOutcome{Result: ticketing.ScanNotFound}, nil
	}
	var id, event string
	var status ticketing.TicketStatus
	var checkedInAt *time.Time
	err := tx.QueryRow(ctx, qLockTicketBySecret, secret).Scan(&id, &event, &status, &checkedInAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ticketing.ScanOutcome{Result: ticketing.ScanNotFound}, nil
	}
	if err != nil {
		return ticketing.ScanOutcome{}, err
	}
	var o ticketing.ScanOutcome
	switch {
	case event != eventID:
		o.Result = ticketing.ScanWrongEvent
	case status == ticketing.TicketVoid:
		o.Result = ticketing.ScanVoid
	case status == ticketing.TicketValid,
		// An offline scan earlier than the recorded first one replaces it.
		offline && status == ticketing.TicketCheckedIn && checkedInAt != nil && sc.ScannedAt.Before(*checkedInAt):
		if _, err := tx.Exec(ctx, qCheckInTicket, id, sc.ScannedAt, sc.Gate); err != nil {
			return o, err
		}
		o.Result, o.Conflict = ticketing.ScanOK, status == ticketing.TicketCheckedIn
	default:
		o.Result, o.Conflict = ticketing.ScanAlreadyCheckedIn, offline
	}
	o.Ticket, err = scanTicket(tx.QueryRow(ctx, qSelectTicket, id, nil))
	return o, err
}

// CheckinList implements ticketing.CheckinService.
func (s *TicketService) CheckinList(ctx context.Context, eventID string, since *time.Time, after string, limit int) ([]ticketing.CheckinEntry, string, error) {
	if !ticketing.ValidID(eventID) {
		return nil, "", ticketing.NotFound("event")
	}
	if after != "" && !ticketing.ValidID(after) {
		return nil, "", ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, "cursor is not one this list gave")
	}
	limit = min(max(limit, 1), ticketing.MaxCheckinList)
	var entries []ticketing.CheckinEntry
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if err := requireEvent(ctx, tx, eventID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, qCheckinList, eventID, nullIfEmpty(after), since, limit+1)
		if err != nil {
			return err
		}
		entries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.CheckinEntry, error) {
			var e ticketing.CheckinEntry
			var secret string
			err := r.Scan(&e.TicketID, &secret, &e.Status, &e.TicketTypeID, &e.TicketTypeName, &e.SeatLabel, &e.AttendeeName,
				&e.CheckedInAt, &e.CheckedInGate, &e.UpdatedAt)
			e.SecretHash = checkin.SecretHash(secret)
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, "", translate(err, "event")
	}
	next := ""
	if len(entries) > limit {
		entries = entries[:limit]
		next = entries[limit-1].TicketID
	}
	return entries, next, nil
}

// CheckinStats implements ticketing.CheckinService.
func (s *TicketService) CheckinStats(ctx context.Context, eventID string, latest int) (*ticketing.CheckinStats, error) {
	if !ticketing.ValidID(eventID) {
		return nil, ticketing.NotFound("event")
	}
	st := &ticketing.CheckinStats{ByType: []ticketing.CheckinTypeCount{}, ByGate: []ticketing.CheckinGateCount{}, Latest: []ticketing.ScanRecord{}}
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if err := requireEvent(ctx, tx, eventID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, qCheckinCountsByType, eventID)
		if err != nil {
			return err
		}
		if st.ByType, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.CheckinTypeCount, error) {
			var c ticketing.CheckinTypeCount
			return c, r.Scan(&c.TicketTypeID, &c.Name, &c.Tickets, &c.CheckedIn)
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, qCheckinCountsByGate, eventID); err != nil {
			return err
		}
		if st.ByGate, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.CheckinGateCount, error) {
			var c ticketing.CheckinGateCount
			return c, r.Scan(&c.Gate, &c.CheckedIn)
		}); err != nil {
			return err
		}
		if rows, err = tx.Query(ctx, qLatestScans, eventID, min(max(latest, 1), 100)); err != nil {
			return err
		}
		st.Latest, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.ScanRecord, error) {
			var c ticketing.ScanRecord
			var ticketID *string
			err := r.Scan(&c.ID, &ticketID, &c.Result, &c.Gate, &c.Offline, &c.ScannedAt, &c.RecordedAt, &c.AttendeeName, &c.TicketTypeName, &c.SeatLabel)
			if ticketID != nil {
				c.TicketID = *ticketID
			}
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, translate(err, "event")
	}
	return st, nil
}

// scanAt names scan i of an offline upload in problems.
func scanAt(offline bool, i int) string {
	if !offline {
		return ""
	}
	return fmt.Sprintf("scans[%d]: ", i)
}

// requireEvent is NotFound unless the tenant has the event (not deleted).
func requireEvent(ctx context.Context, tx pgx.Tx, eventID string) error {
	var exists bool
	if err := tx.QueryRow(ctx, qEventExists, eventID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return ticketing.NotFound("event")
	}
	return nil
}
