-- +goose Up
-- Organizer branding (issue 16, the storefront): a logo and an accent colour
-- on the tenant row, shown with the organizer's name by GET /v1/settings.
-- Like the rest of the row they change only as ticketing_platform (00008):
-- the platform API, and an organizer's PATCH /v1/settings for its own row.
-- The checks repeat the application's rules as a last line: '' (no logo) or
-- an http(s) URL of at most 2048 bytes without control characters, and a
-- lowercase #rrggbb colour.
ALTER TABLE tenants
  ADD COLUMN logo_url text NOT NULL DEFAULT '',
  ADD COLUMN accent_color text NOT NULL DEFAULT '#4f46e5',
  ADD CONSTRAINT tenants_logo_url_format CHECK (
    logo_url = ''
    OR (octet_length(logo_url) <= 2048 AND logo_url ~ '^https?://' AND logo_url !~ '[\x01-\x1f\x7f-\x9f]')),
  ADD CONSTRAINT tenants_accent_color_format CHECK (accent_color ~ '^#[0-9a-f]{6}$');

-- +goose Down
ALTER TABLE tenants DROP COLUMN accent_color, DROP COLUMN logo_url;
