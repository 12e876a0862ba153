-- +goose Up
-- Starting a payment races: a double click, two tabs and a retrying app ask
-- for a checkout of one booking at once. Paystack's initialize is called
-- outside any database lock, so the attempt row carries a claim: the one
-- caller holding it initializes, records the checkout only while it still
-- holds it, and everyone else waits for that checkout. A claim that outlives
-- init_until (its holder crashed or hung) may be taken over; the old holder
-- can then no longer record its checkout, so no checkout leaves the server
-- unless it is the attempt's recorded one.
ALTER TABLE payments
  ADD COLUMN init_claim uuid,
  ADD COLUMN init_until timestamptz,
  -- When Paystack was last asked about the attempt, whatever the answer:
  -- its rate limit is shared by every organizer, so an attempt is not
  -- asked about again moments later (NULL: never asked).
  ADD COLUMN checked_at timestamptz;

-- The reconciler asks about open attempts in the order they were last
-- asked about, so that attempts still open do not starve the others.
DROP INDEX payments_open_idx;
CREATE INDEX payments_open_idx ON payments (tenant_id, (COALESCE(checked_at, created_at))) WHERE status = 'initialized';

-- +goose Down
DROP INDEX payments_open_idx;
CREATE INDEX payments_open_idx ON payments (tenant_id, created_at) WHERE status = 'initialized';
ALTER TABLE payments DROP COLUMN checked_at, DROP COLUMN init_until, DROP COLUMN init_claim;
