-- name: ListTickets
-- Newest first, keyset on (created_at, id) descending. $3 holder, $4 event,
-- $5 booking, $6 the page size plus one.
SELECT t.id, t.booking_id, t.event_id, e.title, e.starts_at, e.ends_at, v.name, v.timezone, t.ticket_type_id, tt.name,
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
SELECT t.id, t.booking_id, t.event_id, e.title, e.starts_at, e.ends_at, v.name, v.timezone, t.ticket_type_id, tt.name,
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

-- name: CheckInTicket
UPDATE tickets SET status = 'checked_in', checked_in_at = $2, checked_in_gate = $3, version = version + 1, updated_at = now()
WHERE id = $1;

-- name: LockTicketBySecret
SELECT id, event_id, status, checked_in_at FROM tickets WHERE secret = $1 FOR UPDATE;

-- name: EventExists
SELECT EXISTS (SELECT 1 FROM events WHERE id = $1 AND deleted_at IS NULL);

-- name: InsertScan
INSERT INTO checkin_scans (tenant_id, event_id, ticket_id, result, gate, offline, scanned_by, scanned_at)
VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7);

-- name: CheckinList
-- The tickets of an event for a scanner to cache, in id order after $2,
-- changed after $3 when set; $4 the page size plus one.
SELECT t.id, t.secret, t.status, t.ticket_type_id, tt.name, COALESCE(s.label, ''), t.attendee_name, t.checked_in_at,
       t.checked_in_gate, t.updated_at
FROM tickets t
JOIN ticket_types tt ON tt.id = t.ticket_type_id
LEFT JOIN seats s ON s.id = t.seat_id
WHERE t.event_id = $1 AND ($2::uuid IS NULL OR t.id > $2) AND ($3::timestamptz IS NULL OR t.updated_at > $3)
ORDER BY t.id
LIMIT $4;

-- name: CheckinCountsByType
SELECT t.ticket_type_id, tt.name, count(*) FILTER (WHERE t.status <> 'void'),
       count(*) FILTER (WHERE t.status = 'checked_in')
FROM tickets t JOIN ticket_types tt ON tt.id = t.ticket_type_id
WHERE t.event_id = $1
GROUP BY t.ticket_type_id, tt.name
ORDER BY tt.name, t.ticket_type_id;

-- name: CheckinCountsByGate
SELECT checked_in_gate, count(*) FROM tickets
WHERE event_id = $1 AND status = 'checked_in'
GROUP BY checked_in_gate
ORDER BY checked_in_gate;

-- name: LatestScans
SELECT c.id, c.ticket_id, c.result, c.gate, c.offline, c.scanned_at, c.recorded_at, COALESCE(t.attendee_name, ''),
       COALESCE(tt.name, ''), COALESCE(s.label, '')
FROM checkin_scans c
LEFT JOIN tickets t ON t.id = c.ticket_id
LEFT JOIN ticket_types tt ON tt.id = t.ticket_type_id
LEFT JOIN seats s ON s.id = t.seat_id
WHERE c.event_id = $1
ORDER BY c.recorded_at DESC, c.id DESC
LIMIT $2;
