-- +goose Up
-- Payments: each attempt to pay a booking through Paystack, the refunds owed
-- when a charge cannot become tickets, and every webhook Paystack sent us.

-- A tenant may be paid through its own Paystack subaccount, with a platform
-- fee (basis points of each payment) kept by the platform account.
ALTER TABLE tenants
  ADD COLUMN paystack_subaccount text NOT NULL DEFAULT ''
    CHECK (paystack_subaccount = '' OR paystack_subaccount ~ '^ACCT_[A-Za-z0-9]+$'),
  ADD COLUMN platform_fee_bps integer NOT NULL DEFAULT 0 CHECK (platform_fee_bps BETWEEN 0 AND 10000);

-- An admin may put a booking under review (a dispute, a charge that did not
-- match); the note says why.
ALTER TABLE bookings ADD COLUMN review_note text NOT NULL DEFAULT '';

-- One row per attempt. The reference (bk-<booking>-<n>) is unique across the
-- platform, because Paystack's webhook and redirect name only the reference.
CREATE TABLE payments (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id          uuid NOT NULL,
  booking_id         uuid NOT NULL,
  attempt            integer NOT NULL CHECK (attempt > 0),
  reference          text NOT NULL,
  amount             bigint NOT NULL CHECK (amount >= 0),
  currency           text NOT NULL,
  status             text NOT NULL DEFAULT 'initialized'
                     CHECK (status IN ('initialized', 'success', 'failed', 'abandoned', 'reversed')),
  authorization_url  text NOT NULL DEFAULT '',
  access_code        text NOT NULL DEFAULT '',
  idempotency_key    text,
  -- What Paystack reported at the last verification.
  paystack_id        bigint,
  paid_amount        bigint,
  paid_currency      text,
  gateway_response   text NOT NULL DEFAULT '',
  channel            text NOT NULL DEFAULT '',
  paid_at            timestamptz,
  verified_at        timestamptz,
  -- Why a successful charge did not become tickets (LATE_PAYMENT_SOLD_OUT,
  -- AMOUNT_MISMATCH, ALREADY_PAID, BOOKING_CLOSED), or ''.
  outcome            text NOT NULL DEFAULT '',
  -- After a settlement commits, Redis must follow: confirm the hold
  -- (inventory_hold) of a confirmed booking, or release the holds of one
  -- that was not. inventory_synced is false until that is done, so a
  -- crash in between is finished by the next verification.
  inventory_hold     text NOT NULL DEFAULT '',
  inventory_synced   boolean NOT NULL DEFAULT true,
  version            integer NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
  CONSTRAINT payments_reference_key UNIQUE (reference),
  CONSTRAINT payments_booking_attempt_key UNIQUE (tenant_id, booking_id, attempt),
  CONSTRAINT payments_tenant_id_id_key UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX payments_idempotency_key ON payments (tenant_id, booking_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- At most one open attempt per booking: a second POST returns the open one.
CREATE UNIQUE INDEX payments_one_open_key ON payments (tenant_id, booking_id) WHERE status = 'initialized';
CREATE INDEX payments_tenant_created_idx ON payments (tenant_id, created_at DESC, id);
CREATE INDEX payments_open_idx ON payments (tenant_id, created_at) WHERE status = 'initialized';
CREATE INDEX payments_unsynced_idx ON payments (tenant_id, updated_at) WHERE NOT inventory_synced;
SELECT enable_tenant_rls('payments');
GRANT SELECT, INSERT, UPDATE ON payments TO ticketing_app;

-- payment_routes maps a reference to its tenant: Paystack's webhook and
-- redirect arrive before any tenant is known. Like tenant_domains it is a
-- routing table without RLS; it holds nothing but the two ids.
CREATE TABLE payment_routes (
  reference  text PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id)
);
GRANT SELECT, INSERT ON payment_routes TO ticketing_app;

-- Refunds owed to buyers, with their own states; a worker asks Paystack.
CREATE TABLE refunds (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL,
  payment_id   uuid NOT NULL,
  booking_id   uuid NOT NULL,
  amount       bigint NOT NULL CHECK (amount > 0),
  currency     text NOT NULL,
  reason       text NOT NULL,
  status       text NOT NULL DEFAULT 'queued'
               CHECK (status IN ('queued', 'pending', 'processing', 'processed', 'failed')),
  paystack_id  bigint,
  last_error   text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
  FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
  -- A charge is refunded at most once, in full.
  CONSTRAINT refunds_payment_key UNIQUE (tenant_id, payment_id)
);
SELECT enable_tenant_rls('refunds');
GRANT SELECT, INSERT, UPDATE ON refunds TO ticketing_app;

-- Every webhook accepted (signature valid), once: Paystack retries and
-- duplicates deliver the same body again. Platform-level, like the webhook
-- URL: the reference routes it to a tenant through payment_routes.
CREATE TABLE webhook_events (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  body_sha256  text NOT NULL,
  event        text NOT NULL,
  reference    text NOT NULL DEFAULT '',
  payload      jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  deliveries   integer NOT NULL DEFAULT 1,
  CONSTRAINT webhook_events_body_key UNIQUE (body_sha256)
);
CREATE INDEX webhook_events_reference_idx ON webhook_events (reference);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at);
-- DELETE: the reconciler forgets events older than the retention.
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_events TO ticketing_app;

-- +goose Down
DROP TABLE webhook_events;
DROP TABLE refunds;
DROP TABLE payment_routes;
DROP TABLE payments;
ALTER TABLE bookings DROP COLUMN review_note;
ALTER TABLE tenants DROP COLUMN platform_fee_bps, DROP COLUMN paystack_subaccount;
