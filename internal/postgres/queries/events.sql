-- name: InsertEvent
-- An empty currency means the tenant's own.
INSERT INTO events (tenant_id, venue_id, title, description, starts_at, ends_at, currency,
                    sales_start_at, sales_end_at, hold_minutes, buyer_cancellation, cancel_until_hours, cancel_fee_bps,
                    max_tickets_per_buyer)
VALUES (app_tenant(), $1, $2, $3, $4, $5,
        COALESCE(NULLIF($6, ''), (SELECT currency FROM tenants WHERE id = app_tenant())),
        $7, $8, $9, $10, $11, $12, $13)
RETURNING id;

-- name: SelectEvent
-- The event with its venue. $2 (staff) also admits drafts and deleted events.
SELECT e.id, e.venue_id, e.title, e.description, e.starts_at, e.ends_at, e.currency,
       e.sales_start_at, e.sales_end_at, e.hold_minutes, e.buyer_cancellation, e.cancel_until_hours,
       e.cancel_fee_bps, e.max_tickets_per_buyer, e.status, e.published_at,
       e.cancelled_at, e.deleted_at, e.version, e.created_at, e.updated_at,
       v.name, v.address, v.city, v.timezone, v.capacity
FROM events e JOIN venues v ON v.id = e.venue_id
WHERE e.id = $1 AND ($2 OR (e.status <> 'draft' AND e.deleted_at IS NULL));

-- name: LockEvent
SELECT e.id, e.venue_id, e.title, e.description, e.starts_at, e.ends_at, e.currency,
       e.sales_start_at, e.sales_end_at, e.hold_minutes, e.buyer_cancellation, e.cancel_until_hours,
       e.cancel_fee_bps, e.max_tickets_per_buyer, e.status, e.published_at,
       e.cancelled_at, e.deleted_at, e.version, e.created_at, e.updated_at,
       v.name, v.address, v.city, v.timezone, v.capacity
FROM events e JOIN venues v ON v.id = e.venue_id
WHERE e.id = $1
FOR UPDATE OF e;

-- name: ListEvents
-- Keyset pagination on (starts_at, id), ascending, or descending for past
-- events: the {{...}} markers are filled in when the package loads. $1/$2 the
-- last row of the previous page; $3 staff; $4 status; $5 deleted; $6 when;
-- $7 venue; $8/$9 the starts_at range; $10 a title LIKE pattern; $11 the page
-- size plus one.
SELECT e.id, e.venue_id, e.title, e.description, e.starts_at, e.ends_at, e.currency,
       e.sales_start_at, e.sales_end_at, e.hold_minutes, e.buyer_cancellation, e.cancel_until_hours,
       e.cancel_fee_bps, e.max_tickets_per_buyer, e.status, e.published_at,
       e.cancelled_at, e.deleted_at, e.version, e.created_at, e.updated_at,
       v.name, v.address, v.city, v.timezone, v.capacity
FROM events e JOIN venues v ON v.id = e.venue_id
WHERE ($1::timestamptz IS NULL OR (e.starts_at, e.id) {{after}} ($1, $2::uuid))
  AND (CASE WHEN $3::boolean
            THEN (e.deleted_at IS NOT NULL) = $5::boolean AND ($4::text IS NULL OR e.status = $4)
            ELSE e.status = 'published' AND e.deleted_at IS NULL END)
  AND ($6::text IS NULL OR ($6 = 'upcoming' AND e.ends_at > now()) OR ($6 = 'past' AND e.ends_at <= now()))
  AND ($7::uuid IS NULL OR e.venue_id = $7)
  AND ($8::timestamptz IS NULL OR e.starts_at >= $8)
  AND ($9::timestamptz IS NULL OR e.starts_at < $9)
  AND ($10::text IS NULL OR e.title ILIKE $10)
ORDER BY e.starts_at {{order}}, e.id {{order}}
LIMIT $11;

-- name: UpdateEvent
UPDATE events
SET venue_id = $2, title = $3, description = $4, starts_at = $5, ends_at = $6, currency = $7,
    sales_start_at = $8, sales_end_at = $9, hold_minutes = $10, status = $11,
    published_at = $12, cancelled_at = $13, deleted_at = $14,
    buyer_cancellation = $15, cancel_until_hours = $16, cancel_fee_bps = $17, max_tickets_per_buyer = $18,
    version = version + 1, updated_at = now()
WHERE id = $1
RETURNING version, updated_at;

-- name: SelectTicketTypes
SELECT t.id, t.event_id, t.name, t.kind, t.price, e.currency, t.capacity, t.sold, t.max_per_order, t.max_per_buyer,
       t.sales_start_at, t.sales_end_at, t.version, t.created_at, t.updated_at
FROM ticket_types t JOIN events e ON e.id = t.event_id
WHERE t.event_id = $1
ORDER BY t.position, t.created_at, t.id;

-- name: LockTicketType
SELECT t.id, t.event_id, t.name, t.kind, t.price, e.currency, t.capacity, t.sold, t.max_per_order, t.max_per_buyer,
       t.sales_start_at, t.sales_end_at, t.version, t.created_at, t.updated_at
FROM ticket_types t JOIN events e ON e.id = t.event_id
WHERE t.id = $1
FOR UPDATE OF t;

-- name: SelectTicketTypeEvent
SELECT event_id FROM ticket_types WHERE id = $1;

-- name: InsertTicketType
INSERT INTO ticket_types (tenant_id, event_id, name, kind, price, capacity, max_per_order,
                          sales_start_at, sales_end_at, max_per_buyer, position)
VALUES (app_tenant(), $1, $2, $3, $4, $5, $6, $7, $8, $9,
        (SELECT COALESCE(max(position), 0) + 1 FROM ticket_types WHERE event_id = $1))
RETURNING id, version, created_at, updated_at;

-- name: UpdateTicketType
UPDATE ticket_types
SET name = $2, price = $3, capacity = $4, max_per_order = $5, sales_start_at = $6, sales_end_at = $7, max_per_buyer = $8,
    version = version + 1, updated_at = now()
WHERE id = $1
RETURNING version, updated_at;

-- name: DeleteTicketType
DELETE FROM ticket_types WHERE id = $1;

-- name: MatchSeats
-- Seats of the venue named by id, by "Section:Label" or by label, and every
-- seat of the named sections.
SELECT id::text, section, label
FROM seats
WHERE venue_id = $1
  AND (id::text = ANY($2::text[]) OR label = ANY($2::text[]) OR section || ':' || label = ANY($2::text[])
       OR section = ANY($3::text[]))
ORDER BY position;

-- name: TakenSeats
-- Seats among $2 that another ticket type ($3) of the event already sells.
SELECT s.section || ':' || s.label
FROM ticket_type_seats t JOIN seats s ON s.id = t.seat_id
WHERE t.event_id = $1 AND t.seat_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR t.ticket_type_id <> $3)
ORDER BY s.position
LIMIT 20;

-- name: InsertTicketTypeSeats
INSERT INTO ticket_type_seats (tenant_id, event_id, venue_id, seat_id, ticket_type_id)
SELECT app_tenant(), $1, $2, seat_id, $3 FROM unnest($4::uuid[]) AS seat_id;

-- name: DeleteTicketTypeSeats
DELETE FROM ticket_type_seats WHERE ticket_type_id = $1;

-- name: CountSeatedTicketTypes
SELECT count(*) FROM ticket_types WHERE event_id = $1 AND kind = 'seated';

-- name: TicketTypeHasBookings
-- Bookings of any status keep their ticket type and seats for the record.
SELECT EXISTS (SELECT 1 FROM booking_items WHERE ticket_type_id = $1);

-- name: SelectVenueCapacity
SELECT capacity FROM venues WHERE id = $1;

-- name: LargestEventAtVenue
-- The most tickets the ticket types of any one event at the venue hold.
SELECT COALESCE(max(total), 0)
FROM (SELECT sum(t.capacity) AS total
      FROM ticket_types t JOIN events e ON e.id = t.event_id
      WHERE e.venue_id = $1 GROUP BY e.id) per_event;
