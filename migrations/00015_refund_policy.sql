-- +goose Up
-- An event's refund policy: whether buyers may cancel a paid booking
-- themselves, until how many hours before the start, and the fee kept
-- (basis points of what was paid).
ALTER TABLE events
  ADD COLUMN buyer_cancellation boolean NOT NULL DEFAULT false,
  ADD COLUMN cancel_until_hours integer NOT NULL DEFAULT 48 CHECK (cancel_until_hours BETWEEN 0 AND 8760),
  ADD COLUMN cancel_fee_bps integer NOT NULL DEFAULT 0 CHECK (cancel_fee_bps BETWEEN 0 AND 10000);

-- +goose Down
ALTER TABLE events DROP COLUMN cancel_fee_bps, DROP COLUMN cancel_until_hours, DROP COLUMN buyer_cancellation;
