-- +goose Up
-- The search of bookings by buyer (GET /v1/bookings?buyer=, the console's
-- bookings): the buyers whose email starts with a prefix. Emails are stored
-- in lower case (00002), so the search lowers the prefix. text_pattern_ops
-- makes starts_with(email, prefix) a range of the index whatever the
-- database's collation; users_tenant_email_key (default collation) serves
-- equality only. It leads with tenant_id, as the RLS policy's condition.
CREATE INDEX users_tenant_email_prefix_idx ON users (tenant_id, email text_pattern_ops);

-- +goose Down
DROP INDEX users_tenant_email_prefix_idx;
