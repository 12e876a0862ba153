-- Runs before the versioned migrations, as the role of MIGRATIONS_DATABASE_URL,
-- in every database it migrates. It creates the three cluster-wide roles when
-- they are missing and lets the migrating role act as the owner. It is
-- idempotent and safe to run concurrently.
--
-- ticketing_owner owns every object and runs the migrations (NOLOGIN: one
-- becomes it with SET ROLE).
-- ticketing_app is the role of the API and the workers: no superuser, no
-- BYPASSRLS, owns nothing, holds only DML grants, so row-level security binds it.
-- ticketing_platform holds the only write grants on tenants and tenant_domains
-- (NOLOGIN). The platform API switches to it (SET LOCAL ROLE) for those writes,
-- so ticketing_app is a member; and ticketing_app is NOINHERIT, so that it holds
-- none of those privileges without switching.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ticketing_owner') THEN
    CREATE ROLE ticketing_owner NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ticketing_app') THEN
    CREATE ROLE ticketing_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ticketing_platform') THEN
    CREATE ROLE ticketing_platform NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- NOINHERIT before the grant: from Postgres 16 a grant's INHERIT option
-- defaults to the member's attribute at the time of the grant.
DO $$
BEGIN
  IF (SELECT rolinherit FROM pg_roles WHERE rolname = 'ticketing_app') THEN
    ALTER ROLE ticketing_app NOINHERIT;
  END IF;
  IF NOT pg_has_role('ticketing_app', 'ticketing_platform', 'MEMBER') THEN
    GRANT ticketing_platform TO ticketing_app;
  END IF;
EXCEPTION WHEN unique_violation THEN NULL;
END $$;

DO $$
BEGIN
  IF current_user <> 'ticketing_owner' AND NOT pg_has_role(current_user, 'ticketing_owner', 'MEMBER') THEN
    EXECUTE format('GRANT ticketing_owner TO %I', current_user);
  END IF;
  IF NOT has_schema_privilege('ticketing_owner', 'public', 'CREATE') THEN
    GRANT USAGE, CREATE ON SCHEMA public TO ticketing_owner;
  END IF;
  IF NOT has_schema_privilege('ticketing_app', 'public', 'USAGE') THEN
    GRANT USAGE ON SCHEMA public TO ticketing_app;
  END IF;
  IF NOT has_schema_privilege('ticketing_platform', 'public', 'USAGE') THEN
    GRANT USAGE ON SCHEMA public TO ticketing_platform;
  END IF;
END $$;
