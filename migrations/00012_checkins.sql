-- +goose Up
-- Every scan at the door, online or uploaded by an offline scanner: what
-- the check-in statistics and the latest scans are read from.
CREATE TABLE checkin_scans (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL,
  event_id     uuid NOT NULL,
  -- NULL when the scan named no ticket of the organizer.
  ticket_id    uuid,
  result       text NOT NULL CHECK (result IN ('ok', 'already_checked_in', 'void', 'wrong_event', 'not_found')),
  gate         text NOT NULL DEFAULT '' CHECK (length(gate) <= 60),
  offline      boolean NOT NULL DEFAULT false,
  scanned_by   uuid NOT NULL,
  scanned_at   timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkin_scans_tenant_event_idx ON checkin_scans (tenant_id, event_id, recorded_at DESC, id);
SELECT enable_tenant_rls('checkin_scans');
GRANT SELECT, INSERT ON checkin_scans TO ticketing_app;

-- +goose Down
DROP TABLE checkin_scans;
