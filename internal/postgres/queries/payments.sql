-- name: LockBookingForPayment
-- The booking a payment is about, locked against a concurrent expiry,
-- cancellation or settlement. $2, when set, must own it.
SELECT b.id, b.event_id, b.user_id, b.status, b.total, b.currency, b.expires_at, b.created_at, b.updated_at,
       b.failure_reason, b.review_note
FROM bookings b WHERE b.id = $1 AND ($2::uuid IS NULL OR b.user_id = $2)
FOR UPDATE;

-- name: SelectBuyerEmail
SELECT email FROM users WHERE id = $1;


-- name: SelectOpenPayment
-- The attempt made with the Idempotency-Key $2 (whatever its state), else
-- the booking's open attempt.
SELECT id, booking_id, attempt, reference, amount, currency, status, authorization_url, access_code,
       paystack_id, paid_amount, paid_currency, gateway_response, channel, paid_at, verified_at, outcome,
       created_at, updated_at, inventory_hold, inventory_synced, checked_at, COALESCE(init_until > now(), false),
       (SELECT b.event_id FROM bookings b WHERE b.id = payments.booking_id)
FROM payments WHERE booking_id = $1 AND (status = 'initialized' OR ($2::text IS NOT NULL AND idempotency_key = $2))
ORDER BY ($2::text IS NOT NULL AND idempotency_key IS NOT DISTINCT FROM $2) DESC, attempt DESC LIMIT 1;

-- name: NextPaymentAttempt
SELECT COALESCE(max(attempt), 0) + 1 FROM payments WHERE booking_id = $1;

-- name: InsertPayment
INSERT INTO payments (tenant_id, booking_id, attempt, reference, amount, currency, idempotency_key)
VALUES (app_tenant(), $1, $2, $3, $4, $5, $6)
RETURNING id, booking_id, attempt, reference, amount, currency, status, authorization_url, access_code,
          paystack_id, paid_amount, paid_currency, gateway_response, channel, paid_at, verified_at, outcome,
          created_at, updated_at, inventory_hold, inventory_synced, checked_at, COALESCE(init_until > now(), false),
          (SELECT b.event_id FROM bookings b WHERE b.id = payments.booking_id);

-- name: InsertPaymentRoute
INSERT INTO payment_routes (reference, tenant_id) VALUES ($1, app_tenant());

-- name: ClaimPaymentInit
-- Takes the initialization of an open attempt without a checkout for $2
-- seconds, unless another caller holds it.
UPDATE payments SET init_claim = gen_random_uuid(), init_until = clock_timestamp() + make_interval(secs => $2)
WHERE id = $1 AND status = 'initialized' AND authorization_url = '' AND (init_until IS NULL OR init_until <= now())
RETURNING init_claim::text;

-- name: SetPaymentCheckout
-- Records the checkout, only for the holder of the claim $2 (a holder
-- whose claim was taken over must not hand out its checkout) and while the
-- booking can still be paid (it may have been cancelled meanwhile).
UPDATE payments SET authorization_url = $3, access_code = $4, init_claim = NULL, init_until = NULL,
       version = version + 1, updated_at = now()
WHERE id = $1 AND init_claim = $2 AND status = 'initialized' AND authorization_url = ''
  AND EXISTS (SELECT 1 FROM bookings b WHERE b.id = payments.booking_id AND b.status = 'pending' AND b.expires_at > now());

-- name: ReleasePaymentClaim
-- The holder of the claim $2 gives it up (Paystack could not be reached):
-- the next caller initializes again at once.
UPDATE payments SET init_claim = NULL, init_until = NULL WHERE id = $1 AND init_claim = $2;

-- name: EndClaimedPayment
-- The holder of the claim $2 ends an attempt whose checkout nobody has:
-- $3 failed (Paystack refused it) or abandoned (its checkout was lost).
-- Its Idempotency-Key goes to the next attempt: nothing was handed out
-- under it that a retry should get again.
UPDATE payments SET status = $3, gateway_response = $4, init_claim = NULL, init_until = NULL,
       idempotency_key = NULL, version = version + 1, updated_at = now()
WHERE id = $1 AND init_claim = $2 AND status = 'initialized' AND authorization_url = '';

-- name: TakePaymentCheck
-- Takes the right to ask Paystack about an unsettled attempt now, unless
-- someone asked less than $2 seconds ago: one question per attempt per
-- pause, across every process. Returns whether it was taken and, when not,
-- when asking is next allowed.
WITH taken AS (
  UPDATE payments SET checked_at = clock_timestamp()
  WHERE id = $1 AND status NOT IN ('success', 'reversed')
    AND (checked_at IS NULL OR checked_at <= clock_timestamp() - make_interval(secs => $2))
  RETURNING id)
SELECT EXISTS (SELECT 1 FROM taken), (SELECT checked_at + make_interval(secs => $2) FROM payments WHERE id = $1);

-- name: RecordPaymentCheck
-- Paystack answered about an unsettled attempt without changing it (not
-- paid yet, or still being paid).
UPDATE payments SET checked_at = now(), gateway_response = $2, updated_at = now()
WHERE id = $1 AND status NOT IN ('success', 'reversed');

-- name: AbandonUnknownPayment
-- Paystack does not know the attempt: abandoned, if it still has no
-- checkout and nobody is initializing it (an answer read before an
-- initialize must not write off the checkout that initialize made), and
-- its booking's hold is over (while it runs, a start initializes it).
UPDATE payments SET status = 'abandoned', gateway_response = 'unknown to Paystack', verified_at = now(),
       checked_at = now(), version = version + 1, updated_at = now()
WHERE reference = $1 AND status = 'initialized' AND authorization_url = ''
  AND (init_until IS NULL OR init_until <= now())
  AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id = payments.booking_id AND b.status = 'pending' AND b.expires_at > now());

-- name: SelectBookingLive
-- Whether a booking is pending with its hold still running.
SELECT status = 'pending' AND expires_at > now() FROM bookings WHERE id = $1;

-- name: SelectPaymentByReference

SELECT id, booking_id, attempt, reference, amount, currency, status, authorization_url, access_code,
       paystack_id, paid_amount, paid_currency, gateway_response, channel, paid_at, verified_at, outcome,
       created_at, updated_at, inventory_hold, inventory_synced, checked_at, COALESCE(init_until > now(), false),
       (SELECT b.event_id FROM bookings b WHERE b.id = payments.booking_id)
FROM payments WHERE reference = $1;

-- name: LockPaymentByReference
SELECT id, booking_id, attempt, reference, amount, currency, status, authorization_url, access_code,
       paystack_id, paid_amount, paid_currency, gateway_response, channel, paid_at, verified_at, outcome,
       created_at, updated_at, inventory_hold, inventory_synced, checked_at, COALESCE(init_until > now(), false),
       (SELECT b.event_id FROM bookings b WHERE b.id = payments.booking_id)
FROM payments WHERE reference = $1
FOR UPDATE;

-- name: RecordPaymentOutcome
-- What Paystack said, and what it made of the booking. $2 status, $10
-- outcome, $11 the hold Redis must confirm or release ($12 false until it has).
UPDATE payments SET status = $2, paystack_id = $3, paid_amount = $4, paid_currency = $5, gateway_response = $6,
       channel = $7, paid_at = $8, verified_at = $9, checked_at = $9, outcome = $10, inventory_hold = $11, inventory_synced = $12,
       version = version + 1, updated_at = now()
WHERE id = $1;

-- name: MarkInventorySynced
UPDATE payments SET inventory_synced = true, updated_at = now() WHERE reference = $1;

-- name: SelectUnsyncedPayments
-- Settled payments whose Redis step has not been done for $1 seconds.
SELECT reference FROM payments
WHERE NOT inventory_synced AND updated_at < now() - make_interval(secs => $1)
ORDER BY updated_at LIMIT $2;

-- name: SelectTenantOfReference
SELECT tenant_id::text FROM payment_routes WHERE reference = $1;

-- name: ConfirmBooking
UPDATE bookings SET status = 'confirmed', version = version + 1, updated_at = now()
WHERE id = $1 AND status IN ('pending', 'expired');

-- name: FailBookingWithReason
UPDATE bookings SET status = 'failed', failure_reason = $2, version = version + 1, updated_at = now()
WHERE id = $1 AND status IN ('pending', 'expired');

-- name: ReviewBookingWithNote
-- A charge that did not match: the booking it paid for goes under review,
-- whatever its status.
UPDATE bookings SET status = 'review', review_note = $2, version = version + 1, updated_at = now()
WHERE id = $1
RETURNING status;

-- name: ReviewPaidBooking
-- An admin's flag: a confirmed booking goes under review, one under review
-- gets the new note, and any other is left as it is (no row). The status
-- the booking had is read under the row's lock, so it is the one the WHERE
-- decided on.
UPDATE bookings b SET status = 'review', review_note = $2, version = b.version + 1, updated_at = now()
FROM (SELECT id, status FROM bookings WHERE id = $1 FOR UPDATE) prev
WHERE b.id = prev.id AND b.status IN ('confirmed', 'review')
RETURNING prev.status;

-- name: AddSold
-- The sale of one booking item; the CHECK (sold <= capacity) refuses an oversell.
UPDATE ticket_types SET sold = sold + $2
WHERE id = $1;

-- name: InsertTickets
-- $3 quantity tickets of a general-admission type, or one per seat in $4,
-- held by the buyer and named after them; each gets its own secret.
INSERT INTO tickets (tenant_id, booking_id, event_id, ticket_type_id, seat_id, holder_id, attendee_name)
SELECT app_tenant(), $1, $2, $3, s.seat_id, b.user_id, u.name
FROM (SELECT unnest($4::uuid[]) AS seat_id WHERE cardinality($4::uuid[]) > 0
      UNION ALL
      SELECT NULL::uuid FROM generate_series(1, $5::integer) WHERE cardinality($4::uuid[]) = 0) s
CROSS JOIN bookings b JOIN users u ON u.id = b.user_id
WHERE b.id = $1;

-- name: ReactivateBookingSeats
-- A late payment takes its seats back (the unique index refuses a seat that
-- another booking holds now).
UPDATE booking_seats SET active = true WHERE booking_id = $1 AND NOT active;

-- name: InsertRefund
-- The automatic refund of a charge that could not become tickets: at most
-- one per payment, in full.
INSERT INTO refunds (tenant_id, payment_id, booking_id, amount, currency, reason, kind)
VALUES (app_tenant(), $1, $2, $3, $4, $5, 'automatic')
ON CONFLICT (tenant_id, payment_id) WHERE kind = 'automatic' DO NOTHING
RETURNING id::text;

-- name: ListPayments
-- Newest first, keyset on (created_at, id) descending. $3 status, $4 booking,
-- $5 reference, $6 the page size plus one.
SELECT id, booking_id, attempt, reference, amount, currency, status, authorization_url, access_code,
       paystack_id, paid_amount, paid_currency, gateway_response, channel, paid_at, verified_at, outcome,
       created_at, updated_at, inventory_hold, inventory_synced, checked_at, COALESCE(init_until > now(), false),
       (SELECT b.event_id FROM bookings b WHERE b.id = payments.booking_id)
FROM payments
WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
  AND ($3::text IS NULL OR status = $3)
  AND ($4::uuid IS NULL OR booking_id = $4)
  AND ($5::text IS NULL OR reference = $5)
ORDER BY created_at DESC, id DESC
LIMIT $6;

-- name: SelectStalePayments
-- Open attempts Paystack has not told us about for $1 seconds, the longest
-- silent first: the reconciler asks Paystack about them.
SELECT reference FROM payments
WHERE status = 'initialized' AND COALESCE(checked_at, created_at) < now() - make_interval(secs => $1)
ORDER BY COALESCE(checked_at, created_at) LIMIT $2;

-- name: SelectOpenPaymentsOfDueBookings
-- Open attempts of pending bookings whose hold ran out: asked about before
-- the bookings expire.
SELECT p.reference FROM payments p JOIN bookings b ON b.id = p.booking_id
WHERE p.status = 'initialized' AND b.status = 'pending' AND b.expires_at <= now()
ORDER BY b.expires_at LIMIT $1;

-- name: InsertWebhookEvent
-- Every accepted webhook once; a redelivery of the same body counts.
INSERT INTO webhook_events (body_sha256, event, reference, payload)
VALUES ($1, $2, $3, $4)
ON CONFLICT (body_sha256) DO UPDATE SET deliveries = webhook_events.deliveries + 1
RETURNING deliveries = 1;

-- name: DeleteOldWebhookEvents
DELETE FROM webhook_events WHERE id IN (
  SELECT id FROM webhook_events WHERE received_at < now() - make_interval(secs => $1) LIMIT $2);
