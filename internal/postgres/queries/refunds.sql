-- name: SelectRefund
SELECT r.id::text, r.booking_id::text, r.payment_id::text, p.reference, r.amount, r.currency, r.reason, r.kind,
       r.status, r.last_error, r.paystack_id, COALESCE(r.requested_by::text, ''), r.attempts, r.created_at, r.updated_at
FROM refunds r JOIN payments p ON p.id = r.payment_id
WHERE r.id = $1;

-- name: SelectRefundByKey
SELECT r.id::text, r.booking_id::text, r.payment_id::text, p.reference, r.amount, r.currency, r.reason, r.kind,
       r.status, r.last_error, r.paystack_id, COALESCE(r.requested_by::text, ''), r.attempts, r.created_at, r.updated_at
FROM refunds r JOIN payments p ON p.id = r.payment_id
WHERE r.idempotency_key = $1;

-- name: LockRefund
-- A refund, locked (after its payment: the order every refund write takes).
SELECT r.id::text, r.booking_id::text, r.payment_id::text, p.reference, r.amount, r.currency, r.reason, r.kind,
       r.status, r.last_error, r.paystack_id, COALESCE(r.requested_by::text, ''), r.attempts, r.created_at, r.updated_at
FROM refunds r JOIN payments p ON p.id = r.payment_id
WHERE r.id = $1
FOR UPDATE OF r;

-- name: ListRefunds
-- Newest first, keyset on (created_at, id) descending. $3 status, $4
-- booking, $5 the page size plus one.
SELECT r.id::text, r.booking_id::text, r.payment_id::text, p.reference, r.amount, r.currency, r.reason, r.kind,
       r.status, r.last_error, r.paystack_id, COALESCE(r.requested_by::text, ''), r.attempts, r.created_at, r.updated_at
FROM refunds r JOIN payments p ON p.id = r.payment_id
WHERE ($1::timestamptz IS NULL OR (r.created_at, r.id) < ($1, $2::uuid))
  AND ($3::text IS NULL OR r.status = $3)
  AND ($4::uuid IS NULL OR r.booking_id = $4)
ORDER BY r.created_at DESC, r.id DESC
LIMIT $5;

-- name: LockConfirmingPayment
-- The payment that confirmed a booking, locked: the refunds of a payment
-- are checked against what it paid one request at a time. Settle takes
-- the same lock first, then the booking's.
SELECT id::text, COALESCE(paid_amount, 0), COALESCE(paid_currency, currency) FROM payments
WHERE booking_id = $1 AND status IN ('success', 'reversed') AND outcome = ''
ORDER BY attempt
LIMIT 1
FOR UPDATE;

-- name: LockPaymentOfRefund
-- The payment a refund refunds, locked, with what it paid.
SELECT p.id::text, COALESCE(p.paid_amount, 0) FROM payments p
WHERE p.id = (SELECT r.payment_id FROM refunds r WHERE r.id = $1)
FOR UPDATE;

-- name: SumRefunds
-- What the refunds of a payment that did not fail take from it; $2, when
-- set, is left out.
SELECT COALESCE(sum(amount), 0)::bigint FROM refunds
WHERE payment_id = $1 AND status <> 'failed' AND ($2::uuid IS NULL OR id <> $2);

-- name: InsertAdminRefund
INSERT INTO refunds (tenant_id, payment_id, booking_id, amount, currency, reason, kind, requested_by, idempotency_key)
VALUES (app_tenant(), $1, $2, $3, $4, $5, 'admin', NULLIF($6, '')::uuid, $7)
RETURNING id::text;

-- name: RequeueRefund
-- A failed refund is asked of Paystack again, as its next attempt.
UPDATE refunds SET status = 'queued', attempts = attempts + 1, paystack_id = NULL, last_error = '', updated_at = now()
WHERE id = $1 AND status = 'failed';

-- name: UpdateRefund
-- Records what Paystack said of attempt $2 of a refund: status $3 and,
-- once accepted, its Paystack refund $4 (NULL: not known). Only a refund
-- still at that attempt and not finished changes (a retry starts a new
-- attempt; what Paystack says of the old one is not about it), only
-- forward (an answer fetched before a later one was recorded must not undo
-- it), and only for the Paystack refund the answer was about. Returns the
-- refund's kind when it changed.
UPDATE refunds SET status = $3, paystack_id = COALESCE($4, paystack_id), last_error = $5, updated_at = now()
WHERE id = $1 AND attempts = $2 AND status IN ('queued', 'pending', 'processing')
  AND ($4::bigint IS NULL OR paystack_id IS NULL OR paystack_id = $4)
  AND array_position(ARRAY['queued', 'pending', 'processing', 'processed', 'failed'], status)
      <= array_position(ARRAY['queued', 'pending', 'processing', 'processed', 'failed'], $3::text)
RETURNING kind;

-- name: SelectQueuedRefunds
-- Refunds still owed after $1 seconds (their task was lost, or Paystack
-- could not be reached): the reconciler enqueues them again. A failed
-- refund waits for a person.
SELECT id::text FROM refunds
WHERE status = 'queued' AND updated_at < now() - make_interval(secs => $1)
ORDER BY created_at LIMIT $2;

-- name: SelectRefundsInProgress
-- Refunds Paystack accepted and has not finished, asked about for $1
-- seconds or more: the reconciler fetches their state.
SELECT id::text, attempts, paystack_id FROM refunds
WHERE status IN ('pending', 'processing') AND paystack_id IS NOT NULL
  AND updated_at < now() - make_interval(secs => $1)
ORDER BY updated_at LIMIT $2;

-- name: SelectRefundsInProgressOfPayment
-- The refunds of the payment with reference $1 that Paystack accepted and
-- has not finished: a refund webhook about the payment fetches them.
SELECT r.id::text, r.attempts, r.paystack_id FROM refunds r JOIN payments p ON p.id = r.payment_id
WHERE p.reference = $1 AND r.status IN ('pending', 'processing') AND r.paystack_id IS NOT NULL
ORDER BY r.created_at;

-- name: VoidBookingTickets
-- The tickets of a booking refunded in full: void, with new secrets, so
-- neither the door nor the seat knows them any more.
UPDATE tickets SET status = 'void', secret = replace(gen_random_uuid()::text, '-', ''), version = version + 1, updated_at = now()
WHERE booking_id = $1 AND status <> 'void'
RETURNING ticket_type_id::text;

-- name: UnsellTickets
UPDATE ticket_types SET sold = sold - $2 WHERE id = $1;

-- name: MarkBookingRefunded
UPDATE bookings SET status = 'refunded', version = version + 1, updated_at = now()
WHERE id = $1 AND status = 'confirmed';

-- name: ConfirmedBookingsOfCancelledEvent
-- The confirmed bookings of event $1 if it is cancelled, oldest first, at
-- most $2; others ending them at once skip them.
SELECT b.id::text FROM bookings b JOIN events e ON e.id = b.event_id
WHERE b.event_id = $1 AND e.status = 'cancelled' AND b.status = 'confirmed'
ORDER BY b.created_at, b.id
LIMIT $2
FOR UPDATE OF b SKIP LOCKED;

-- name: InsertEventCancelledRefund
INSERT INTO refunds (tenant_id, payment_id, booking_id, amount, currency, reason, kind)
VALUES (app_tenant(), $1, $2, $3, $4, $5, 'event_cancelled')
RETURNING id::text;

-- name: CancelledEventsToRefund
-- Cancelled events that still have confirmed bookings.
SELECT DISTINCT b.event_id::text FROM bookings b JOIN events e ON e.id = b.event_id
WHERE e.status = 'cancelled' AND b.status = 'confirmed'
LIMIT $1;

-- name: EventRefundProgress
-- How far refunding a cancelled event has come: its bookings still
-- confirmed, those refunded, and its refunds by status with their amounts.
SELECT (SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'confirmed'),
       (SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'refunded'),
       count(*) FILTER (WHERE r.status IN ('queued', 'pending', 'processing')),
       count(*) FILTER (WHERE r.status = 'processed'),
       count(*) FILTER (WHERE r.status = 'failed'),
       COALESCE(sum(r.amount) FILTER (WHERE r.status = 'processed'), 0)
FROM refunds r JOIN bookings b ON b.id = r.booking_id
WHERE b.event_id = $1;

-- name: SelectRefundPolicy
SELECT buyer_cancellation, cancel_until_hours, cancel_fee_bps, starts_at FROM events WHERE id = $1;

-- name: InsertBuyerRefund
INSERT INTO refunds (tenant_id, payment_id, booking_id, amount, currency, reason, kind, requested_by)
VALUES (app_tenant(), $1, $2, $3, $4, $5, 'buyer', NULLIF($6, '')::uuid)
RETURNING id::text;
