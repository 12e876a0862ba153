-- +goose Up
-- Catalog: venues with seat layouts, events, ticket types and the seats each
-- seated ticket type sells. Composite foreign keys that carry tenant_id (and
-- venue_id) make it impossible, not merely unlikely, for a row to point at a
-- row of another tenant, or for a ticket type to sell a seat of another venue.

CREATE TABLE venues (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  address     text NOT NULL DEFAULT '',
  city        text NOT NULL DEFAULT '',
  timezone    text NOT NULL,
  capacity    integer NOT NULL CHECK (capacity > 0),
  has_layout  boolean NOT NULL DEFAULT false,
  version     integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT venues_tenant_id_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX venues_tenant_created_idx ON venues (tenant_id, created_at, id);
SELECT enable_tenant_rls('venues');
GRANT SELECT, INSERT, UPDATE, DELETE ON venues TO ticketing_app;

-- One row per seat of a venue's layout, in layout order (position).
CREATE TABLE seats (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL,
  venue_id     uuid NOT NULL,
  section      text NOT NULL,
  row_label    text NOT NULL,
  seat_label   text NOT NULL,
  label        text NOT NULL, -- "<row>-<seat>", unique within its section
  position     integer NOT NULL,
  FOREIGN KEY (tenant_id, venue_id) REFERENCES venues (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT seats_tenant_venue_id_key UNIQUE (tenant_id, venue_id, id),
  CONSTRAINT seats_section_label_key UNIQUE (tenant_id, venue_id, section, label)
);
CREATE INDEX seats_tenant_venue_position_idx ON seats (tenant_id, venue_id, position);
SELECT enable_tenant_rls('seats');
GRANT SELECT, INSERT, DELETE ON seats TO ticketing_app;

CREATE TABLE events (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL,
  venue_id        uuid NOT NULL,
  title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  description     text NOT NULL DEFAULT '',
  starts_at       timestamptz NOT NULL,
  ends_at         timestamptz NOT NULL,
  currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  sales_start_at  timestamptz,
  sales_end_at    timestamptz,
  hold_minutes    integer NOT NULL DEFAULT 10 CHECK (hold_minutes BETWEEN 1 AND 60),
  status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'cancelled')),
  published_at    timestamptz,
  cancelled_at    timestamptz,
  deleted_at      timestamptz,
  version         integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  CHECK (sales_start_at IS NULL OR sales_end_at IS NULL OR sales_end_at > sales_start_at),
  FOREIGN KEY (tenant_id, venue_id) REFERENCES venues (tenant_id, id),
  CONSTRAINT events_tenant_id_id_key UNIQUE (tenant_id, id),
  CONSTRAINT events_tenant_id_venue_key UNIQUE (tenant_id, id, venue_id)
);
CREATE INDEX events_tenant_starts_idx ON events (tenant_id, starts_at, id);
CREATE INDEX events_tenant_venue_idx ON events (tenant_id, venue_id);
SELECT enable_tenant_rls('events');
GRANT SELECT, INSERT, UPDATE ON events TO ticketing_app;

CREATE TABLE ticket_types (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL,
  event_id        uuid NOT NULL,
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  kind            text NOT NULL CHECK (kind IN ('general_admission', 'seated')),
  price           bigint NOT NULL CHECK (price >= 0),
  capacity        integer NOT NULL CHECK (capacity > 0),
  -- Tickets sold. The CHECK is the last line of defence against oversell:
  -- whatever the application does, Postgres refuses sold > capacity.
  sold            integer NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= capacity),
  max_per_order   integer NOT NULL DEFAULT 10 CHECK (max_per_order BETWEEN 1 AND 100),
  sales_start_at  timestamptz,
  sales_end_at    timestamptz,
  position        integer NOT NULL DEFAULT 0,
  version         integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (sales_start_at IS NULL OR sales_end_at IS NULL OR sales_end_at > sales_start_at),
  FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id),
  CONSTRAINT ticket_types_tenant_id_event_key UNIQUE (tenant_id, id, event_id)
);
CREATE INDEX ticket_types_tenant_event_idx ON ticket_types (tenant_id, event_id, position, created_at);
SELECT enable_tenant_rls('ticket_types');
GRANT SELECT, INSERT, UPDATE, DELETE ON ticket_types TO ticketing_app;

-- The seats a seated ticket type sells. The primary key lets a seat belong
-- to one ticket type per event; the foreign keys tie the seat to the event's
-- own venue.
CREATE TABLE ticket_type_seats (
  tenant_id       uuid NOT NULL,
  event_id        uuid NOT NULL,
  venue_id        uuid NOT NULL,
  seat_id         uuid NOT NULL,
  ticket_type_id  uuid NOT NULL,
  PRIMARY KEY (tenant_id, event_id, seat_id),
  FOREIGN KEY (tenant_id, ticket_type_id, event_id) REFERENCES ticket_types (tenant_id, id, event_id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, event_id, venue_id) REFERENCES events (tenant_id, id, venue_id),
  FOREIGN KEY (tenant_id, venue_id, seat_id) REFERENCES seats (tenant_id, venue_id, id)
);
CREATE INDEX ticket_type_seats_type_idx ON ticket_type_seats (tenant_id, ticket_type_id);
SELECT enable_tenant_rls('ticket_type_seats');
GRANT SELECT, INSERT, DELETE ON ticket_type_seats TO ticketing_app;

-- +goose Down
DROP TABLE ticket_type_seats;
DROP TABLE ticket_types;
DROP TABLE events;
DROP TABLE seats;
DROP TABLE venues;
