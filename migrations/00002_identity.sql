-- +goose Up
-- Identity: tenant-scoped accounts and their refresh-token sessions.

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  role          text NOT NULL DEFAULT 'USER' CHECK (role IN ('USER', 'ADMIN')),
  password_hash text NOT NULL,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email),
  -- (tenant_id, id) is what other tenant-owned tables reference, so that a
  -- row can never point at a user of another tenant.
  CONSTRAINT users_tenant_id_id_key UNIQUE (tenant_id, id)
);
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at, id);
CREATE INDEX users_tenant_role_idx ON users (tenant_id, role);
SELECT enable_tenant_rls('users');
GRANT SELECT, INSERT, UPDATE ON users TO ticketing_app;

-- A session is a family of refresh tokens: each refresh rotates the token
-- and keeps the family. Presenting a rotated token again means it was
-- stolen, and revokes the whole family.
CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL,
  user_id     uuid NOT NULL,
  session_id  uuid NOT NULL,
  token_hash  bytea NOT NULL,
  expires_at  timestamptz NOT NULL,
  rotated_at  timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
  CONSTRAINT refresh_tokens_hash_key UNIQUE (tenant_id, token_hash)
);
CREATE INDEX refresh_tokens_tenant_session_idx ON refresh_tokens (tenant_id, session_id);
CREATE INDEX refresh_tokens_tenant_user_idx ON refresh_tokens (tenant_id, user_id) WHERE revoked_at IS NULL;
SELECT enable_tenant_rls('refresh_tokens');
GRANT SELECT, INSERT, UPDATE, DELETE ON refresh_tokens TO ticketing_app;

-- The audit log names users by id; keep that honest now that users exist.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_fk FOREIGN KEY (tenant_id, actor_id) REFERENCES users (tenant_id, id);

-- +goose Down
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_fk;
DROP TABLE refresh_tokens;
DROP TABLE users;
