-- +goose Up
-- Tickets a person carries to the door (issue 13). A ticket belongs to its
-- holder (the buyer, or whom it was transferred to), names its attendee, and
-- has a secret: the QR code carries it, signed with the tenant's check-in
-- key (see internal/checkin), and a scan finds the ticket by it. Voiding or
-- transferring a ticket gives it a new secret, so the old QR is refused.

ALTER TABLE tickets
  ADD COLUMN holder_id       uuid,
  ADD COLUMN attendee_name   text NOT NULL DEFAULT '' CHECK (length(attendee_name) <= 120),
  ADD COLUMN status          text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'checked_in', 'void')),
  -- 122 random bits, as 32 hex digits.
  ADD COLUMN secret          text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', ''),
  ADD COLUMN checked_in_at   timestamptz,
  ADD COLUMN checked_in_gate text NOT NULL DEFAULT '',
  ADD COLUMN version         integer NOT NULL DEFAULT 1,
  ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();

UPDATE tickets t SET holder_id = b.user_id, attendee_name = u.name
FROM bookings b JOIN users u ON u.tenant_id = b.tenant_id AND u.id = b.user_id
WHERE b.tenant_id = t.tenant_id AND b.id = t.booking_id;

ALTER TABLE tickets ALTER COLUMN holder_id SET NOT NULL;
ALTER TABLE tickets ADD CONSTRAINT tickets_secret_key UNIQUE (tenant_id, secret);
ALTER TABLE tickets ADD CONSTRAINT tickets_checked_in CHECK ((status = 'checked_in') = (checked_in_at IS NOT NULL) OR status = 'void');
CREATE INDEX tickets_tenant_holder_idx ON tickets (tenant_id, holder_id, created_at DESC, id);
CREATE INDEX tickets_tenant_event_idx ON tickets (tenant_id, event_id, ticket_type_id);
GRANT UPDATE ON tickets TO ticketing_app;

-- Door staff: may scan tickets and nothing else.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('USER', 'ADMIN', 'CHECKIN'));

-- The versions of a tenant's check-in signing key. The keys themselves are
-- derived from TICKET_SIGNING_SECRET, the tenant and the version, never
-- stored; rotating adds a version and retires the one before.
CREATE TABLE checkin_keys (
  tenant_id   uuid NOT NULL,
  version     integer NOT NULL CHECK (version > 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz,
  PRIMARY KEY (tenant_id, version)
);
CREATE UNIQUE INDEX checkin_keys_one_active ON checkin_keys (tenant_id) WHERE retired_at IS NULL;
SELECT enable_tenant_rls('checkin_keys');
GRANT SELECT, INSERT, UPDATE ON checkin_keys TO ticketing_app;

-- +goose Down
DROP TABLE checkin_keys;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('USER', 'ADMIN'));
REVOKE UPDATE ON tickets FROM ticketing_app;
DROP INDEX tickets_tenant_event_idx;
DROP INDEX tickets_tenant_holder_idx;
ALTER TABLE tickets DROP CONSTRAINT tickets_checked_in;
ALTER TABLE tickets DROP CONSTRAINT tickets_secret_key;
ALTER TABLE tickets
  DROP COLUMN updated_at, DROP COLUMN version, DROP COLUMN checked_in_gate, DROP COLUMN checked_in_at,
  DROP COLUMN secret, DROP COLUMN status, DROP COLUMN attendee_name, DROP COLUMN holder_id;
