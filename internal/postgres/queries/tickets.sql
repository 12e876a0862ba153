-- name: ListTickets
-- Newest first, keyset on (created_at, id) descending. $3 holder, $4 event,
-- $5 booking, $6 the page size plus one.
SELECT t.id, t.booking_id, t.event_id, e.title, e.starts_at, e.ends_at, v.name, t.ticket_type_id, tt.name,
       t.seat_id, COALESCE(s.section, ''), COALESCE(s.label, ''), t.holder_id, t.attendee_name, t.status, t.secret,
       t.checked_in_at, t.checked_in_gate, t.version, t.created_at, t.updated_at
FROM tickets t
JOIN events e ON e.id = t.event_id
JOIN venues v ON v.id = e.venue_id
JOIN ticket_types tt ON tt.id = t.ticket_type_id
LEFT JOIN seats s ON s.id = t.seat_id
WHERE ($1::timestamptz IS NULL OR (t.created_at, t.id) < ($1, $2::uuid))
  AND ($3::uuid IS NULL OR t.holder_id = $3)
  AND ($4::uuid IS NULL OR t.event_id = $4)
  AND ($5::uuid IS NULL OR t.booking_id = $5)
ORDER BY t.created_at DESC, t.id DESC
LIMIT $6;

-- name: SelectTicket
-- One ticket; $2, when set, must hold it. FOR UPDATE OF t when $3.
SELECT t.id, t.booking_id, t.event_id, e.title, e.starts_at, e.ends_at, v.name, t.ticket_type_id, tt.name,
       t.seat_id, COALESCE(s.section, ''), COALESCE(s.label, ''), t.holder_id, t.attendee_name, t.status, t.secret,
       t.checked_in_at, t.checked_in_gate, t.version, t.created_at, t.updated_at
FROM tickets t
JOIN events e ON e.id = t.event_id
JOIN venues v ON v.id = e.venue_id
JOIN ticket_types tt ON tt.id = t.ticket_type_id
LEFT JOIN seats s ON s.id = t.seat_id
WHERE t.id = $1 AND ($2::uuid IS NULL OR t.holder_id = $2);

-- name: LockTicket
-- The ticket's row lock, for a change; $2, when set, must hold it.
SELECT id FROM tickets WHERE id = $1 AND ($2::uuid IS NULL OR holder_id = $2) FOR UPDATE;

-- name: RenameAttendee
UPDATE tickets SET attendee_name = $2, version = version + 1, updated_at = now()
WHERE id = $1;

-- name: TransferTicket
-- A new holder, named after them, and a new secret: the old QR is refused.
UPDATE tickets SET holder_id = $2, attendee_name = $3, secret = replace(gen_random_uuid()::text, '-', ''),
       version = version + 1, updated_at = now()
WHERE id = $1;

-- name: SelectUserByEmail
SELECT id, name FROM users WHERE email = $1;

-- name: ListCheckinKeys
SELECT version, created_at, retired_at FROM checkin_keys ORDER BY version DESC;

-- name: InsertFirstCheckinKey
-- Version 1, unless the tenant has a key (a racing first use made it).
INSERT INTO checkin_keys (tenant_id, version) VALUES (app_tenant(), 1)
ON CONFLICT DO NOTHING;

-- name: RetireCheckinKey
-- Retires the active key and returns its version.
UPDATE checkin_keys SET retired_at = now() WHERE retired_at IS NULL
RETURNING version;

-- name: InsertCheckinKey
INSERT INTO checkin_keys (tenant_id, version) VALUES (app_tenant(), $1);

-- name: LockTenantKeys
-- Serialises rotations of one tenant's keys.
SELECT pg_advisory_xact_lock(hashtextextended('checkin_keys:' || app_tenant()::text, 0));
