-- name: InsertMailOutbox
-- A mail due for a booking, once per kind.
INSERT INTO mail_outbox (tenant_id, kind, booking_id)
VALUES (app_tenant(), $1, $2)
ON CONFLICT (tenant_id, kind, booking_id) DO NOTHING;

-- name: ClaimMail
UPDATE mail_outbox
SET claimed_until = now() + make_interval(secs => $3), attempts = attempts + 1
WHERE kind = $1 AND booking_id = $2 AND sent_at IS NULL AND failed_at IS NULL
  AND (claimed_until IS NULL OR claimed_until < now())
RETURNING id::text, kind, booking_id::text, attempts;

-- name: SelectMailState
-- Why ClaimMail took nothing: done (sent or given up), or held by a worker.
SELECT sent_at IS NOT NULL OR failed_at IS NOT NULL, claimed_until >= now()
FROM mail_outbox WHERE kind = $1 AND booking_id = $2;

-- name: MarkMailSent
UPDATE mail_outbox SET sent_at = now(), sent_via = $2, claimed_until = NULL, last_error = ''
WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL;

-- name: MarkMailFailed
UPDATE mail_outbox SET failed_at = now(), last_error = $2, claimed_until = NULL
WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL;

-- name: ReleaseMail
UPDATE mail_outbox SET claimed_until = NULL, last_error = $2
WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL;

-- name: SelectUnsentMail
-- $1: seconds since it was written down; $2: how far back to look (older
-- mails are no longer worth sending); $3: at most this many.
SELECT id::text, kind, booking_id::text, attempts
FROM mail_outbox
WHERE sent_at IS NULL AND failed_at IS NULL
  AND created_at < now() - make_interval(secs => $1)
  AND created_at > now() - make_interval(secs => $2)
  AND (claimed_until IS NULL OR claimed_until < now())
ORDER BY created_at
LIMIT $3;

-- name: SelectBookingConfirmation
-- The last column is what is refunded or being refunded of the booking:
-- its refunds that did not fail.
SELECT b.id::text, b.status, u.name, u.email, t.name, e.title, e.starts_at, e.ends_at,
       v.name, v.address, v.city, v.timezone, b.total, b.currency,
       (SELECT COALESCE(sum(r.amount), 0)::bigint FROM refunds r
        WHERE r.booking_id = b.id AND r.status <> 'failed')
FROM bookings b
JOIN users u ON u.id = b.user_id
JOIN events e ON e.id = b.event_id
JOIN venues v ON v.id = e.venue_id
JOIN tenants t ON t.id = b.tenant_id
WHERE b.id = $1;

-- name: SelectConfirmationLines
-- The booking's tickets by ticket type, with the labels of the seats issued.
SELECT tt.name, i.quantity, i.unit_price,
       COALESCE((SELECT array_agg(s.section || ' ' || s.label ORDER BY s.position)
                 FROM tickets tk JOIN seats s ON s.id = tk.seat_id
                 WHERE tk.booking_id = i.booking_id AND tk.ticket_type_id = i.ticket_type_id), '{}')
FROM booking_items i JOIN ticket_types tt ON tt.id = i.ticket_type_id
WHERE i.booking_id = $1
ORDER BY tt.position, tt.created_at, tt.id;
