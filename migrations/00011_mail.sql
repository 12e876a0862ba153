-- +goose Up
-- Mail to buyers (issue 13). A mail is written down here in the transaction
-- that makes it due (the settlement that confirms a booking), so it is sent
-- even if the asynq task that sends it is never enqueued: the worker's
-- periodic sweep enqueues every row still unsent. The task renders the mail
-- from the database; Redis carries only the tenant and the booking.
CREATE TABLE mail_outbox (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL,
  -- What is sent: booking_confirmed. One mail of a kind per booking.
  kind           text NOT NULL CHECK (kind ~ '^[a-z][a-z_]{0,39}$'),
  booking_id     uuid NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- A worker sending the mail holds it until then; a worker that died
  -- holding it lets go when the time is up.
  claimed_until  timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text NOT NULL DEFAULT '',
  -- Sent (through SMTP, or only logged because SMTP_URL was not set), or
  -- failed for good (the server refused the recipient); never both.
  sent_at        timestamptz,
  sent_via       text NOT NULL DEFAULT '' CHECK (sent_via IN ('', 'smtp', 'log')),
  failed_at      timestamptz,
  CHECK (sent_at IS NULL OR failed_at IS NULL),
  FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
  CONSTRAINT mail_outbox_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT mail_outbox_kind_booking_key UNIQUE (tenant_id, kind, booking_id)
);
-- The sweep's question: what of this tenant is still to be sent?
CREATE INDEX mail_outbox_unsent_idx ON mail_outbox (tenant_id, created_at)
  WHERE sent_at IS NULL AND failed_at IS NULL;
SELECT enable_tenant_rls('mail_outbox');
GRANT SELECT, INSERT, UPDATE ON mail_outbox TO ticketing_app;

-- +goose Down
DROP TABLE mail_outbox;
