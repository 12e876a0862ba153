-- Runs before the versioned migrations, as the role of MIGRATIONS_DATABASE_URL,
-- in every database it migrates. It creates the two cluster-wide roles when they
-- are missing and lets the migrating role act as the owner. It is idempotent and
-- safe to run concurrently.
--
-- ticketing_owner owns every object and runs the migrations (NOLOGIN: one
-- becomes it with SET ROLE).
-- ticketing_app is the role of the API and the workers: no superuser, no
-- BYPASSRLS, owns nothing, holds only DML grants, so row-level security binds it.
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
  IF current_user <> 'ticketing_owner' AND NOT pg_has_role(current_user, 'ticketing_owner', 'MEMBER') THEN
    EXECUTE format('GRANT ticketing_owner TO %I', current_user);
  END IF;
  IF NOT has_schema_privilege('ticketing_owner', 'public', 'CREATE') THEN
    GRANT USAGE, CREATE ON SCHEMA public TO ticketing_owner;
  END IF;
  IF NOT has_schema_privilege('ticketing_app', 'public', 'USAGE') THEN
    GRANT USAGE ON SCHEMA public TO ticketing_app;
  END IF;
END $$;
