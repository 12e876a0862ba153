-- +goose Up
-- The booking insert is the serial step of an on-sale: one group-commit
-- writer per instance writes every pending booking, and its time per booking
-- caps the bookings per second (docs/benchmarks.md). Three of the four
-- foreign-key checks each booking paid (an SPI query and a row lock per row)
-- guarded references that nothing can break any more:
--
-- * bookings.event_id and bookings.user_id: the insert itself requires the
--   event to be on sale and the buyer to be a user, both of the tenant (row
--   level security scopes the checks). The application role may not DELETE
--   users, events or bookings (see their GRANTs), and the trigger below
--   refuses any change of their id or tenant_id, so a row once referenced
--   stays.
-- * booking_items.booking_id and booking_seats.booking_id: items and seats
--   are written by the same statement as their booking, joined to the
--   bookings that statement wrote (queries/bookings.sql, InsertBookings).
--
-- The references to ticket types and to a ticket type's seats stay foreign
-- keys: ticket types can be deleted and re-seated, and the key is what makes
-- such a change and a concurrent booking exclude each other.

-- keep_keys refuses an UPDATE that changes a row's id or tenant_id.
-- +goose StatementBegin
CREATE FUNCTION keep_keys() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id IS DISTINCT FROM OLD.id OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
    RAISE EXCEPTION 'the id and tenant_id of % rows never change', TG_TABLE_NAME
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER keep_keys BEFORE UPDATE OF id, tenant_id ON users FOR EACH ROW EXECUTE FUNCTION keep_keys();
CREATE TRIGGER keep_keys BEFORE UPDATE OF id, tenant_id ON events FOR EACH ROW EXECUTE FUNCTION keep_keys();
CREATE TRIGGER keep_keys BEFORE UPDATE OF id, tenant_id ON bookings FOR EACH ROW EXECUTE FUNCTION keep_keys();

ALTER TABLE bookings DROP CONSTRAINT bookings_tenant_id_event_id_fkey;
ALTER TABLE bookings DROP CONSTRAINT bookings_tenant_id_user_id_fkey;
ALTER TABLE booking_items DROP CONSTRAINT booking_items_tenant_id_booking_id_fkey;
ALTER TABLE booking_seats DROP CONSTRAINT booking_seats_tenant_id_booking_id_fkey;

-- Most bookings carry no Idempotency-Key: they need no entry in its index.
ALTER TABLE bookings DROP CONSTRAINT bookings_idempotency_key;
CREATE UNIQUE INDEX bookings_idempotency_key ON bookings (tenant_id, user_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- +goose Down
DROP INDEX bookings_idempotency_key;
ALTER TABLE bookings ADD CONSTRAINT bookings_idempotency_key UNIQUE (tenant_id, user_id, idempotency_key);
ALTER TABLE booking_seats ADD FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id);
ALTER TABLE booking_items ADD FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id);
ALTER TABLE bookings ADD FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id);
ALTER TABLE bookings ADD FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id);
DROP TRIGGER keep_keys ON bookings;
DROP TRIGGER keep_keys ON events;
DROP TRIGGER keep_keys ON users;
DROP FUNCTION keep_keys();
