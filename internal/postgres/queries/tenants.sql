-- name: InsertTenant
INSERT INTO tenants (slug, name, currency, logo_url, accent_color)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, slug, name, status, currency, created_at, updated_at, paystack_subaccount, platform_fee_bps, logo_url, accent_color;

-- name: SelectTenant
SELECT t.id, t.slug, t.name, t.status, t.currency, t.created_at, t.updated_at, t.paystack_subaccount, t.platform_fee_bps,
       t.logo_url, t.accent_color,
       COALESCE((SELECT array_agg(d.domain ORDER BY d.domain) FROM tenant_domains d WHERE d.tenant_id = t.id), '{}')
FROM tenants t
WHERE t.id = $1;

-- name: ListTenants
-- Keyset pagination on (created_at, id); $1/$2 are the last row of the
-- previous page (NULL for the first page), $3 an optional status, $4 the
-- page size plus one.
SELECT t.id, t.slug, t.name, t.status, t.currency, t.created_at, t.updated_at, t.paystack_subaccount, t.platform_fee_bps,
       t.logo_url, t.accent_color,
       COALESCE((SELECT array_agg(d.domain ORDER BY d.domain) FROM tenant_domains d WHERE d.tenant_id = t.id), '{}')
FROM tenants t
WHERE ($1::timestamptz IS NULL OR (t.created_at, t.id) > ($1, $2::uuid))
  AND ($3::text IS NULL OR t.status = $3)
ORDER BY t.created_at, t.id
LIMIT $4;

-- name: UpdateTenant
UPDATE tenants
SET name       = COALESCE($2, name),
    status     = COALESCE($3, status),
    currency   = COALESCE($4, currency),
    paystack_subaccount = COALESCE($5, paystack_subaccount),
    platform_fee_bps    = COALESCE($6, platform_fee_bps),
    logo_url     = COALESCE($7, logo_url),
    accent_color = COALESCE($8, accent_color),
    updated_at = now()
WHERE id = $1
RETURNING id;

-- name: UpdateTenantSettings
-- An organizer's change to its own storefront: the display name and the
-- branding, never the status, currency or money settings.
UPDATE tenants
SET name         = COALESCE($2, name),
    logo_url     = COALESCE($3, logo_url),
    accent_color = COALESCE($4, accent_color),
    updated_at   = now()
WHERE id = $1
RETURNING id;

-- name: InsertTenantDomain
INSERT INTO tenant_domains (domain, tenant_id) VALUES ($1, $2);

-- name: DeleteTenantDomain
DELETE FROM tenant_domains WHERE domain = $1 AND tenant_id = $2;

-- name: ResolveTenant
-- The tenant of a custom domain ($1) wins over the tenant of a slug ($2).
SELECT id, slug, name, status, currency, created_at, updated_at, paystack_subaccount, platform_fee_bps,
       logo_url, accent_color
FROM (
  SELECT t.*, 0 AS precedence
  FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id
  WHERE d.domain = $1
  UNION ALL
  SELECT t.*, 1 AS precedence FROM tenants t WHERE t.slug = $2
) candidates
ORDER BY precedence
LIMIT 1;

-- name: LockTenant
SELECT id FROM tenants WHERE id = $1 FOR UPDATE;
