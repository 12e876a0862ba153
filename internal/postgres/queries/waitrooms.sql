-- name: UpsertWaitingRoom
-- Creates or replaces the room of an event of the tenant; no row when the
-- event is not the tenant's (or deleted).
INSERT INTO event_waiting_rooms (tenant_id, event_id, enabled, opens_at, admit_per_minute, admission_window_seconds)
SELECT e.tenant_id, e.id, $2, $3, $4, $5
FROM events e
WHERE e.id = $1 AND e.deleted_at IS NULL
ON CONFLICT (tenant_id, event_id) DO UPDATE
SET enabled = EXCLUDED.enabled, opens_at = EXCLUDED.opens_at, admit_per_minute = EXCLUDED.admit_per_minute,
    admission_window_seconds = EXCLUDED.admission_window_seconds, updated_at = now()
RETURNING event_id, enabled, opens_at, admit_per_minute, admission_window_seconds, created_at, updated_at;

-- name: SelectWaitingRoom
SELECT event_id, enabled, opens_at, admit_per_minute, admission_window_seconds, created_at, updated_at
FROM event_waiting_rooms
WHERE event_id = $1;

-- name: DeleteWaitingRoom
DELETE FROM event_waiting_rooms WHERE event_id = $1;
