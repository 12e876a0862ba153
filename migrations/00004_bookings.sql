-- +goose Up
-- Bookings: a buyer's hold on tickets while they pay, and the tickets issued
-- when they have paid. Redis holds are the fast gate; these rows are the
-- truth a lost Redis is rebuilt from.

CREATE TABLE bookings (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL,
  event_id         uuid NOT NULL,
  user_id          uuid NOT NULL,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'confirmed', 'expired', 'cancelled', 'failed', 'review')),
  total            bigint NOT NULL CHECK (total >= 0),
  currency         text NOT NULL,
  expires_at       timestamptz NOT NULL,
  idempotency_key  text,
  failure_reason   text NOT NULL DEFAULT '',
  version          integer NOT NULL DEFAULT 1,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
  CONSTRAINT bookings_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT bookings_idempotency_key UNIQUE (tenant_id, user_id, idempotency_key)
);
CREATE INDEX bookings_tenant_user_idx ON bookings (tenant_id, user_id, created_at DESC, id);
CREATE INDEX bookings_tenant_event_idx ON bookings (tenant_id, event_id, created_at DESC, id);
CREATE INDEX bookings_tenant_created_idx ON bookings (tenant_id, created_at DESC, id);
CREATE INDEX bookings_pending_expiry_idx ON bookings (tenant_id, expires_at) WHERE status = 'pending';
SELECT enable_tenant_rls('bookings');
GRANT SELECT, INSERT, UPDATE ON bookings TO ticketing_app;

-- One row per ticket type of a booking; a seated type's quantity is its
-- number of seats. The unit price is copied, so later price changes do not
-- change what the buyer was quoted.
CREATE TABLE booking_items (
  tenant_id       uuid NOT NULL,
  booking_id      uuid NOT NULL,
  event_id        uuid NOT NULL,
  ticket_type_id  uuid NOT NULL,
  quantity        integer NOT NULL CHECK (quantity > 0),
  unit_price      bigint NOT NULL CHECK (unit_price >= 0),
  PRIMARY KEY (tenant_id, booking_id, ticket_type_id),
  FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_type_id, event_id) REFERENCES ticket_types (tenant_id, id, event_id)
);
CREATE INDEX booking_items_type_idx ON booking_items (tenant_id, ticket_type_id);
SELECT enable_tenant_rls('booking_items');
GRANT SELECT, INSERT ON booking_items TO ticketing_app;

-- The seats of a booking. While the booking holds them (active), the partial
-- unique index lets no other booking hold the same seat, whatever Redis says.
CREATE TABLE booking_seats (
  tenant_id   uuid NOT NULL,
  booking_id  uuid NOT NULL,
  event_id    uuid NOT NULL,
  seat_id     uuid NOT NULL,
  active      boolean NOT NULL DEFAULT true,
  PRIMARY KEY (tenant_id, booking_id, seat_id),
  FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
  FOREIGN KEY (tenant_id, event_id, seat_id) REFERENCES ticket_type_seats (tenant_id, event_id, seat_id)
);
CREATE UNIQUE INDEX booking_seats_active_key ON booking_seats (tenant_id, event_id, seat_id) WHERE active;
SELECT enable_tenant_rls('booking_seats');
GRANT SELECT, INSERT, UPDATE ON booking_seats TO ticketing_app;

-- Tickets issued for paid bookings. A seat is sold at most once per event.
CREATE TABLE tickets (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL,
  booking_id      uuid NOT NULL,
  event_id        uuid NOT NULL,
  ticket_type_id  uuid NOT NULL,
  seat_id         uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, booking_id) REFERENCES bookings (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_type_id, event_id) REFERENCES ticket_types (tenant_id, id, event_id),
  CONSTRAINT tickets_seat_key UNIQUE (tenant_id, event_id, seat_id)
);
CREATE INDEX tickets_tenant_booking_idx ON tickets (tenant_id, booking_id);
SELECT enable_tenant_rls('tickets');
GRANT SELECT, INSERT ON tickets TO ticketing_app;

-- +goose Down
DROP TABLE tickets;
DROP TABLE booking_seats;
DROP TABLE booking_items;
DROP TABLE bookings;
