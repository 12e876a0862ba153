-- +goose Up
-- A booking refunded in full is 'refunded': its tickets are void and their
-- places are back on sale, so a void ticket no longer holds its seat.
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
  CHECK (status IN ('pending', 'confirmed', 'expired', 'cancelled', 'failed', 'review', 'refunded'));
ALTER TABLE tickets DROP CONSTRAINT tickets_seat_key;
CREATE UNIQUE INDEX tickets_seat_key ON tickets (tenant_id, event_id, seat_id) WHERE status <> 'void';

-- +goose Down
DROP INDEX tickets_seat_key;
ALTER TABLE tickets ADD CONSTRAINT tickets_seat_key UNIQUE (tenant_id, event_id, seat_id);
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
  CHECK (status IN ('pending', 'confirmed', 'expired', 'cancelled', 'failed', 'review'));
