-- name: CheckRuntimeRole
-- The connected role, whether it is a superuser or has BYPASSRLS, whether it
-- is a member of a role that owns a table of this database (an owner can
-- disable RLS), whether it can create objects in schema public, and whether
-- it can change tenants or their domains without switching to
-- ticketing_platform (to_regclass: NULL, so false, before the migrations).
SELECT r.rolname,
       r.rolsuper,
       r.rolbypassrls,
       EXISTS (
         SELECT 1 FROM pg_class c
         WHERE c.relkind IN ('r', 'p')
           AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
           AND pg_has_role(r.oid, c.relowner, 'MEMBER')
       ),
       has_schema_privilege(r.oid, 'public', 'CREATE'),
       COALESCE(has_table_privilege(r.oid, to_regclass('public.tenants'), 'INSERT, UPDATE, DELETE, TRUNCATE')
             OR has_table_privilege(r.oid, to_regclass('public.tenant_domains'), 'INSERT, UPDATE, DELETE, TRUNCATE'), false)
FROM pg_roles r
WHERE r.rolname = current_user;

-- name: SetRole
-- Transaction-local SET ROLE: 'ticketing_platform' for the platform's writes
-- to tenants and their domains, 'none' back to the role that logged in.
SELECT set_config('role', $1, true);

-- name: SetTenant
-- Transaction-local settings read by app_tenant() and RLS policies.
SELECT set_config('app.tenant_id', $1, true),
       set_config('app.user_id', $2, true),
       set_config('app.role', $3, true);

-- name: InsertAudit
INSERT INTO audit_log (tenant_id, actor_id, actor_role, actor_name, action, entity, entity_id, request_id, details)
VALUES (app_tenant(), NULLIF($1, '')::uuid, $2, $3, $4, $5, $6, $7, $8);
