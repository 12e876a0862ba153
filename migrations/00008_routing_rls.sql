-- +goose Up
-- The database as the last line (issue 12). The application role is what an
-- injection on a tenant's request path gets, so it gets nothing a tenant
-- should not have: it reads the routing tables freely (they are read before
-- any tenant is known) and writes only its own tenant's payment routes.
-- Tenants and their domains change only as ticketing_platform (see
-- bootstrap/roles.sql), which the platform API switches to for those writes.

-- A tenant row holds where the tenant's money goes (paystack_subaccount)
-- and the platform's cut of it; no tenant changes its own.
REVOKE INSERT, UPDATE, DELETE ON tenants FROM ticketing_app;
REVOKE INSERT, UPDATE, DELETE ON tenant_domains FROM ticketing_app;
GRANT SELECT, INSERT, UPDATE ON tenants TO ticketing_platform;
GRANT SELECT, INSERT, DELETE ON tenant_domains TO ticketing_platform;

-- tenant_domains: everyone reads, only the platform writes. No
-- tenant_isolation policy, so a write grant given back to the application
-- role by mistake would still match no policy and be refused.
ALTER TABLE tenant_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_domains FORCE ROW LEVEL SECURITY;
CREATE POLICY routing_read ON tenant_domains FOR SELECT USING (true);
CREATE POLICY platform_write ON tenant_domains TO ticketing_platform USING (true) WITH CHECK (true);

-- payment_routes: everyone reads (webhooks and redirects name only the
-- reference); a tenant inserts routes to itself only, and no one updates
-- or deletes one (no grant).
SELECT enable_tenant_rls('payment_routes');
CREATE POLICY routing_read ON payment_routes FOR SELECT USING (true);

-- +goose Down
DROP POLICY routing_read ON payment_routes;
DROP POLICY tenant_isolation ON payment_routes;
ALTER TABLE payment_routes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE payment_routes DISABLE ROW LEVEL SECURITY;
DROP POLICY platform_write ON tenant_domains;
DROP POLICY routing_read ON tenant_domains;
ALTER TABLE tenant_domains NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenant_domains DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON tenant_domains FROM ticketing_platform;
REVOKE ALL ON tenants FROM ticketing_platform;
GRANT INSERT, DELETE ON tenant_domains TO ticketing_app;
GRANT INSERT, UPDATE ON tenants TO ticketing_app;
