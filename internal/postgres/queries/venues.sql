-- name: InsertVenue
INSERT INTO venues (tenant_id, name, address, city, timezone, capacity, has_layout)
VALUES (app_tenant(), $1, $2, $3, $4, $5, $6)
RETURNING id, name, address, city, timezone, capacity, has_layout, version, created_at, updated_at;

-- name: InsertSeats
-- COPY is not allowed under row-level security, so seats arrive as arrays.
INSERT INTO seats (tenant_id, venue_id, section, row_label, seat_label, label, position)
SELECT app_tenant(), $1, s.section, s.row_label, s.seat_label, s.row_label || '-' || s.seat_label, s.position
FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS s(section, row_label, seat_label, position);

-- name: SelectVenue
SELECT id, name, address, city, timezone, capacity, has_layout, version, created_at, updated_at
FROM venues WHERE id = $1;

-- name: LockVenue
SELECT id, name, address, city, timezone, capacity, has_layout, version, created_at, updated_at
FROM venues WHERE id = $1 FOR UPDATE;

-- name: SelectSeats
SELECT id, section, row_label, seat_label, label
FROM seats WHERE venue_id = $1 ORDER BY position;

-- name: ListVenues
SELECT id, name, address, city, timezone, capacity, has_layout, version, created_at, updated_at
FROM venues
WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid))
ORDER BY created_at, id
LIMIT $3;

-- name: UpdateVenue
UPDATE venues
SET name = $2, address = $3, city = $4, timezone = $5, capacity = $6, has_layout = $7,
    version = version + 1, updated_at = now()
WHERE id = $1
RETURNING version, updated_at;

-- name: DeleteSeats
DELETE FROM seats WHERE venue_id = $1;

-- name: DeleteVenue
DELETE FROM venues WHERE id = $1;
