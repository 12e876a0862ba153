-- +goose Up
-- Refunds asked for by organizer staff (issue 13): a charge may now be
-- refunded in several parts, each a row with its own states, as long as the
-- parts that did not fail add up to at most what was paid (checked under
-- the payment's row lock, see PaymentStore.RequestRefund). The automatic
-- refund of a charge that could not become tickets stays one per payment.
ALTER TABLE refunds DROP CONSTRAINT refunds_payment_key;
ALTER TABLE refunds
  -- Who decided the refund: the platform itself (a charge that could not
  -- become tickets), an admin, and later the buyer or an event's
  -- cancellation.
  ADD COLUMN kind text NOT NULL DEFAULT 'automatic'
    CHECK (kind IN ('automatic', 'admin', 'buyer', 'event_cancelled')),
  -- The user who asked for it; NULL for automatic refunds.
  ADD COLUMN requested_by uuid,
  -- The Idempotency-Key of the request that made it: the same key names
  -- the same refund.
  ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  -- The refund's attempt at Paystack: 1, plus one per retry of a failed
  -- refund (each retry is a new Paystack refund). What Paystack says of an
  -- earlier attempt is not recorded against a later one.
  ADD COLUMN attempts integer NOT NULL DEFAULT 1 CHECK (attempts > 0),
  ADD CONSTRAINT refunds_requested_by_fk FOREIGN KEY (tenant_id, requested_by) REFERENCES users (tenant_id, id),
  ADD CONSTRAINT refunds_reason_check CHECK (length(reason) BETWEEN 1 AND 500);
-- A charge is refunded automatically at most once, in full.
CREATE UNIQUE INDEX refunds_automatic_key ON refunds (tenant_id, payment_id) WHERE kind = 'automatic';
CREATE UNIQUE INDEX refunds_idempotency_key ON refunds (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The sum of a payment's refunds, a booking's refunds, and the admin list
-- (newest first, optionally by status).
CREATE INDEX refunds_payment_idx ON refunds (tenant_id, payment_id);
CREATE INDEX refunds_booking_idx ON refunds (tenant_id, booking_id, created_at DESC, id);
CREATE INDEX refunds_tenant_created_idx ON refunds (tenant_id, created_at DESC, id);
CREATE INDEX refunds_tenant_status_idx ON refunds (tenant_id, status, created_at DESC, id);

-- +goose Down
-- Refuses, rather than loses data, when a payment has several refunds.
DROP INDEX refunds_tenant_status_idx;
DROP INDEX refunds_tenant_created_idx;
DROP INDEX refunds_booking_idx;
DROP INDEX refunds_payment_idx;
DROP INDEX refunds_idempotency_key;
DROP INDEX refunds_automatic_key;
ALTER TABLE refunds
  DROP CONSTRAINT refunds_reason_check,
  DROP CONSTRAINT refunds_requested_by_fk,
  DROP COLUMN attempts,
  DROP COLUMN idempotency_key,
  DROP COLUMN requested_by,
  DROP COLUMN kind;
ALTER TABLE refunds ADD CONSTRAINT refunds_payment_key UNIQUE (tenant_id, payment_id);
