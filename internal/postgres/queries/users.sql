-- name: InsertUser
INSERT INTO users (tenant_id, email, name, role, password_hash)
VALUES (app_tenant(), $1, $2, $3, $4)
RETURNING id, tenant_id, email, name, role, version, created_at, updated_at;

-- name: SelectUser
SELECT id, tenant_id, email, name, role, version, created_at, updated_at
FROM users WHERE id = $1;

-- name: SelectUserCredentials
SELECT id, tenant_id, email, name, role, version, created_at, updated_at, password_hash
FROM users WHERE email = $1;

-- name: SelectUserPasswordHash
SELECT password_hash FROM users WHERE id = $1;

-- name: ListUsers
-- Keyset pagination on (created_at, id), like ListTenants; $3 an optional
-- role, $4 an optional LIKE pattern on the email, $5 the page size plus one.
SELECT id, tenant_id, email, name, role, version, created_at, updated_at
FROM users
WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid))
  AND ($3::text IS NULL OR role = $3)
  AND ($4::text IS NULL OR email LIKE $4)
ORDER BY created_at, id
LIMIT $5;

-- name: LockAdmins
-- Serialises the organizer's demotions, so that two of them cannot both see
-- another admin left: one lock per organizer, held to the end of the
-- transaction. Not row locks on the admins: SELECT ... FOR UPDATE keeps the
-- lock of a row that a concurrent demotion took out of the result, and an
-- audit row naming that user as its actor then waits for it (a deadlock).
SELECT pg_advisory_xact_lock(hashtextextended('admins:' || app_tenant()::text, 0));

-- name: CountAdmins
-- The organizer's admins other than $1, and all of them, read after
-- LockAdmins (a statement of its own, so its snapshot sees every demotion
-- committed before the lock was granted).
SELECT count(*) FILTER (WHERE id <> $1), count(*) FROM users WHERE role = 'ADMIN';

-- name: UpdateUser
UPDATE users
SET role       = COALESCE($2, role),
    name       = COALESCE($3, name),
    version    = version + 1,
    updated_at = now()
WHERE id = $1 AND version = $4
RETURNING id, tenant_id, email, name, role, version, created_at, updated_at;

-- name: UpdateProfile
-- $5, when set, is the password hash the new one ($3) was checked against:
-- a password changed meanwhile makes the update match nothing.
UPDATE users
SET name          = COALESCE($2, name),
    password_hash = COALESCE($3, password_hash),
    version       = version + 1,
    updated_at    = now()
WHERE id = $1 AND ($4::integer IS NULL OR version = $4) AND ($5::text IS NULL OR password_hash = $5)
RETURNING id, tenant_id, email, name, role, version, created_at, updated_at;

-- name: UpdatePasswordHash
-- A rehash with current parameters; not a change the user made, so the
-- version stays. It applies only over the hash it replaces.
UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2;

-- name: UserExists
SELECT EXISTS (SELECT 1 FROM users WHERE id = $1);
