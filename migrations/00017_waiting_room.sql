-- +goose Up
-- Virtual waiting room per event (issue 15, part 3): when enabled and open,
-- a booking of the event needs an admission from the room. The queue itself
-- lives in Redis (internal/waitroom); this is the organizer's configuration.
CREATE TABLE event_waiting_rooms (
  tenant_id                uuid NOT NULL,
  event_id                 uuid NOT NULL,
  enabled                  boolean NOT NULL DEFAULT true,
  opens_at                 timestamptz NOT NULL,
  -- Visitors admitted per minute; 0 follows the bookings (auto).
  admit_per_minute         integer NOT NULL DEFAULT 0 CHECK (admit_per_minute BETWEEN 0 AND 100000),
  -- How long an admission lasts before the visitor must queue again.
  admission_window_seconds integer NOT NULL DEFAULT 600 CHECK (admission_window_seconds BETWEEN 60 AND 3600),
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, event_id),
  FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE
);
SELECT enable_tenant_rls('event_waiting_rooms');
GRANT SELECT, INSERT, UPDATE, DELETE ON event_waiting_rooms TO ticketing_app;

-- +goose Down
DROP TABLE event_waiting_rooms;
