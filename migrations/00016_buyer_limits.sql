-- +goose Up
-- Per-buyer limits (issue 15): the most tickets one buyer may hold or own,
-- of one ticket type and of the whole event; NULL is no limit beyond
-- max_per_order. Expand-only: both columns are nullable and default to NULL.
ALTER TABLE ticket_types
  ADD COLUMN max_per_buyer integer CHECK (max_per_buyer BETWEEN 1 AND 10000);
ALTER TABLE events
  ADD COLUMN max_tickets_per_buyer integer CHECK (max_tickets_per_buyer BETWEEN 1 AND 10000);

-- The rebuild counts each buyer's tickets of an event through
-- tickets_tenant_event_idx (00009).

-- +goose Down
ALTER TABLE events DROP COLUMN max_tickets_per_buyer;
ALTER TABLE ticket_types DROP COLUMN max_per_buyer;
