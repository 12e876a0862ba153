-- name: SelectSaleEvent
SELECT e.id, e.venue_id, e.title, e.description, e.starts_at, e.ends_at, e.currency,
       e.sales_start_at, e.sales_end_at, e.hold_minutes, e.buyer_cancellation, e.cancel_until_hours,
       e.cancel_fee_bps, e.max_tickets_per_buyer, e.status, e.published_at,
       e.cancelled_at, e.deleted_at, e.version, e.created_at, e.updated_at,
       v.name, v.address, v.city, v.timezone, v.capacity
FROM events e JOIN venues v ON v.id = e.venue_id
WHERE e.id = $1;

-- name: SelectSaleSeats
SELECT t.seat_id::text, t.ticket_type_id::text, s.label, s.section, s.row_label
FROM ticket_type_seats t JOIN seats s ON s.id = t.seat_id
WHERE t.event_id = $1
ORDER BY s.position;

-- name: SelectBooking
-- $2, when set, restricts to that user's bookings.
SELECT id, event_id, user_id, status, total, currency, expires_at, created_at, updated_at, failure_reason, review_note
FROM bookings WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2);

-- name: SelectBookingItems
SELECT i.booking_id::text, i.ticket_type_id::text, tt.name, i.quantity, i.unit_price,
       COALESCE(seats.ids, '{}'), COALESCE(seats.labels, '{}')
FROM booking_items i
JOIN ticket_types tt ON tt.id = i.ticket_type_id
LEFT JOIN LATERAL (
  SELECT array_agg(bs.seat_id::text ORDER BY s.position) AS ids,
         array_agg(s.section || ' ' || s.label ORDER BY s.position) AS labels
  FROM booking_seats bs JOIN seats s ON s.id = bs.seat_id
  JOIN ticket_type_seats tts ON tts.event_id = bs.event_id AND tts.seat_id = bs.seat_id
  WHERE bs.booking_id = i.booking_id AND tts.ticket_type_id = i.ticket_type_id) seats ON true
WHERE i.booking_id = ANY($1::uuid[])
ORDER BY i.booking_id, i.ticket_type_id;

-- name: DescribeBookings
-- What a person reads of bookings: the event's title and start, its
-- venue's time zone, the buyer.
SELECT b.id::text, e.title, e.starts_at, v.timezone, u.name, u.email
FROM bookings b JOIN events e ON e.id = b.event_id JOIN venues v ON v.id = e.venue_id JOIN users u ON u.id = b.user_id
WHERE b.id = ANY($1::uuid[]);

-- name: ListBookings
-- Newest first, keyset on (created_at, id) descending. $3 user, $4 event,
-- $5 status, $6 the page size plus one.
SELECT id, event_id, user_id, status, total, currency, expires_at, created_at, updated_at, failure_reason, review_note
FROM bookings
WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
  AND ($3::uuid IS NULL OR user_id = $3)
  AND ($4::uuid IS NULL OR event_id = $4)
  AND ($5::text IS NULL OR status = $5)
ORDER BY created_at DESC, id DESC
LIMIT $6;

-- name: ListBuyerBookings
-- ListBookings of the buyers whose email starts with $7 (lower case, as
-- emails are stored). A query of its own: the IN must stand alone in the
-- WHERE for the planner to make it a join, either from the buyers found in
-- users_tenant_email_prefix_idx (00019) to their bookings in
-- bookings_tenant_user_idx, or from the newest bookings to their buyers,
-- whichever it expects to be cheaper. starts_with, unlike LIKE, is
-- leakproof, so that RLS lets it be the index's condition.
SELECT id, event_id, user_id, status, total, currency, expires_at, created_at, updated_at, failure_reason, review_note
FROM bookings
WHERE user_id IN (SELECT u.id FROM users u WHERE starts_with(u.email, $7))
  AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
  AND ($3::uuid IS NULL OR user_id = $3)
  AND ($4::uuid IS NULL OR event_id = $4)
  AND ($5::text IS NULL OR status = $5)
ORDER BY created_at DESC, id DESC
LIMIT $6;

-- name: CancelBooking
-- A pending booking whose hold has not run out; $2, when set, must own it.
UPDATE bookings SET status = 'cancelled', version = version + 1, updated_at = now()
WHERE id = $1 AND ($2::uuid IS NULL OR user_id = $2) AND status = 'pending' AND expires_at > now()
RETURNING id;

-- name: ExpireDueBookings
UPDATE bookings SET status = 'expired', version = version + 1, updated_at = now()
WHERE id IN (SELECT id FROM bookings WHERE status = 'pending' AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id::text, event_id::text;

-- name: FailBooking
UPDATE bookings SET status = 'failed', failure_reason = $2, version = version + 1, updated_at = now()
WHERE id = $1 AND status = 'pending';

-- name: DeactivateBookingSeats
-- A booking that no longer holds its seats frees them for others.
UPDATE booking_seats SET active = false WHERE booking_id = ANY($1::uuid[]) AND active;

-- name: SelectStock
SELECT id::text, kind = 'seated', capacity, sold, COALESCE(max_per_buyer, 0) FROM ticket_types WHERE event_id = $1;

-- name: SelectEventBuyerLimit
SELECT COALESCE((SELECT max_tickets_per_buyer FROM events WHERE id = $1), 0);

-- name: ExplainUnwrittenBooking
-- Why InsertBookings left a booking out: its id or its buyer's idempotency
-- key exists, one of its seats is held by another booking, or the event no
-- longer sells (the conditions of InsertBookings).
SELECT EXISTS (SELECT 1 FROM bookings WHERE id = $1)
         OR ($3::text IS NOT NULL AND EXISTS (SELECT 1 FROM bookings WHERE tenant_id = app_tenant() AND user_id = $2
                                              AND idempotency_key = $3)),
       EXISTS (SELECT 1 FROM booking_seats WHERE tenant_id = app_tenant() AND event_id = $4 AND seat_id = ANY($5::uuid[])
               AND active),
       EXISTS (SELECT 1 FROM events e WHERE e.id = $4 AND e.status = 'published' AND e.deleted_at IS NULL
               AND e.sales_start_at <= now() AND (e.sales_end_at IS NULL OR e.sales_end_at > now()));

-- name: SelectKeyedBookings
-- The event's bookings made with an Idempotency-Key, whatever their status:
-- the inventory's keyed hash (bookings_tenant_event_idx).
SELECT b.id::text, b.user_id::text, b.idempotency_key FROM bookings b
WHERE b.tenant_id = app_tenant() AND b.event_id = $1 AND b.idempotency_key IS NOT NULL;

-- name: SelectSettledHolds
-- The holds of the event's confirmations that are committed but that Redis
-- has not confirmed yet (inventory.Snapshot.Settled).
SELECT p.inventory_hold FROM payments p JOIN bookings b ON b.id = p.booking_id
WHERE b.event_id = $1 AND NOT p.inventory_synced AND p.status = 'success' AND p.outcome = '' AND p.inventory_hold <> '';

-- name: SelectBought
-- What each buyer (the user who booked) owns of each ticket type of the
-- event: tickets that are not void, whoever holds them now, so that passing
-- tickets on does not make room under the buyer's limit.
SELECT b.user_id::text, k.ticket_type_id::text, count(*)::int
FROM tickets k JOIN bookings b ON b.id = k.booking_id
WHERE k.event_id = $1 AND k.status <> 'void'
GROUP BY b.user_id, k.ticket_type_id;

-- name: SelectStockSeats
SELECT t.seat_id::text, t.ticket_type_id::text,
       EXISTS (SELECT 1 FROM tickets k WHERE k.event_id = t.event_id AND k.seat_id = t.seat_id AND k.status <> 'void')
FROM ticket_type_seats t WHERE t.event_id = $1;

-- name: SelectLiveHolds
-- The holds of pending bookings whose time has not run out.
SELECT b.id::text, b.expires_at,
       COALESCE((SELECT array_agg(i.ticket_type_id::text ORDER BY i.ticket_type_id)
                 FROM booking_items i JOIN ticket_types t ON t.id = i.ticket_type_id
                 WHERE i.booking_id = b.id AND t.kind = 'general_admission'), '{}'),
       COALESCE((SELECT array_agg(i.quantity ORDER BY i.ticket_type_id)
                 FROM booking_items i JOIN ticket_types t ON t.id = i.ticket_type_id
                 WHERE i.booking_id = b.id AND t.kind = 'general_admission'), '{}'),
       COALESCE((SELECT array_agg(s.seat_id::text) FROM booking_seats s WHERE s.booking_id = b.id AND s.active), '{}'),
       b.user_id::text
FROM bookings b
WHERE b.event_id = $1 AND b.status = 'pending' AND b.expires_at > now();

-- name: HeldQuantity
-- Tickets of a ticket type that unexpired pending bookings hold.
SELECT COALESCE(sum(i.quantity), 0)
FROM booking_items i JOIN bookings b ON b.id = i.booking_id
WHERE i.ticket_type_id = $1 AND b.status = 'pending' AND b.expires_at > now();

-- name: InsertBookings
-- Many bookings of one tenant with their items and seats, written together
-- by the group commit. A booking whose event stopped selling (unpublished,
-- deleted, or outside its sales window, whatever an instance's cached
-- catalog says) is not written, nor one whose buyer is not a user of the
-- tenant (which signing in rules out), and neither are their items and
-- seats: they are joined to the bookings written. These checks stand in for
-- foreign keys (migrations/00006_booking_write_path.sql). Nor is a booking
-- written whose id or idempotency key exists (ON CONFLICT), or one with a
-- seat that a committed booking holds: one buyer's retry or reused key
-- must not fail the other bookings of the batch. It returns the bookings
-- written; ExplainUnwrittenBooking tells the others why.
WITH b AS (
  INSERT INTO bookings (id, tenant_id, event_id, user_id, total, currency, expires_at, idempotency_key)
  SELECT b.id, app_tenant(), b.event_id, b.user_id, b.total, b.currency, b.expires_at, b.idempotency_key
  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::timestamptz[], $7::text[])
       AS b(id, event_id, user_id, total, currency, expires_at, idempotency_key)
  WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = b.event_id AND e.status = 'published' AND e.deleted_at IS NULL
                AND e.sales_start_at <= now() AND (e.sales_end_at IS NULL OR e.sales_end_at > now()))
    AND EXISTS (SELECT 1 FROM users u WHERE u.id = b.user_id)
    AND NOT EXISTS (SELECT 1 FROM unnest($12::uuid[], $13::uuid[]) AS s(booking_id, seat_id)
                    JOIN booking_seats bs ON bs.tenant_id = app_tenant() AND bs.event_id = b.event_id
                                         AND bs.seat_id = s.seat_id AND bs.active
                    WHERE s.booking_id = b.id)
  ON CONFLICT DO NOTHING
  RETURNING id, event_id, created_at, updated_at
), items AS (
  INSERT INTO booking_items (tenant_id, booking_id, event_id, ticket_type_id, quantity, unit_price)
  SELECT app_tenant(), i.booking_id, b.event_id, i.ticket_type_id, i.quantity, i.unit_price
  FROM unnest($8::uuid[], $9::uuid[], $10::integer[], $11::bigint[]) AS i(booking_id, ticket_type_id, quantity, unit_price)
  JOIN b ON b.id = i.booking_id
), seats AS (
  INSERT INTO booking_seats (tenant_id, booking_id, event_id, seat_id)
  SELECT app_tenant(), s.booking_id, b.event_id, s.seat_id
  FROM unnest($12::uuid[], $13::uuid[]) AS s(booking_id, seat_id)
  JOIN b ON b.id = s.booking_id
)
SELECT id::text, created_at, updated_at FROM b;
