-- +goose Up
-- Tenancy: the organizers, their custom domains, the row-level security
-- pattern every tenant-owned table follows, and the audit log.

-- app_tenant is the tenant of the current transaction, set by the application
-- with set_config('app.tenant_id', id, true). NULLIF turns the '' that a
-- reused pooled connection reports after a reset into NULL, so "no tenant"
-- always matches no rows.
CREATE FUNCTION app_tenant() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- enable_tenant_rls applies the one tenant isolation pattern to a table with
-- a tenant_id column: ENABLE and FORCE row-level security (FORCE so that the
-- owner is bound too) and one policy for every command.
-- +goose StatementBegin
CREATE FUNCTION enable_tenant_rls(tbl regclass) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = (SELECT app_tenant())) WITH CHECK (tenant_id = (SELECT app_tenant()))', tbl);
END $$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION enable_tenant_rls(regclass) FROM PUBLIC;

-- Tenants and their domains are platform tables: they are read to resolve the
-- tenant of a request, before any tenant is known, so they carry no RLS. The
-- application role may read them and change them only through the audited
-- platform API.
CREATE TABLE tenants (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug       text NOT NULL,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_slug_key UNIQUE (slug),
  CONSTRAINT tenants_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) BETWEEN 3 AND 40)
);
CREATE INDEX tenants_created_at_id_idx ON tenants (created_at, id);

CREATE TABLE tenant_domains (
  domain     text PRIMARY KEY CHECK (domain = lower(domain)),
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_domains_tenant_id_idx ON tenant_domains (tenant_id);

GRANT SELECT, INSERT, UPDATE ON tenants TO ticketing_app;
GRANT SELECT, INSERT, DELETE ON tenant_domains TO ticketing_app;

-- audit_log is the first tenant-owned table and shows the pattern: tenant_id
-- NOT NULL, indexes that lead with tenant_id, enable_tenant_rls. It is
-- append-only for the application.
CREATE TABLE audit_log (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  actor_id    uuid,
  actor_role  text NOT NULL,
  actor_name  text NOT NULL DEFAULT '',
  action      text NOT NULL,
  entity      text NOT NULL,
  entity_id   text NOT NULL,
  request_id  text NOT NULL DEFAULT '',
  details     jsonb NOT NULL DEFAULT '{}',
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at DESC, id);
SELECT enable_tenant_rls('audit_log');
GRANT SELECT, INSERT ON audit_log TO ticketing_app;

-- +goose Down
DROP TABLE audit_log;
DROP TABLE tenant_domains;
DROP TABLE tenants;
DROP FUNCTION enable_tenant_rls(regclass);
DROP FUNCTION app_tenant();
