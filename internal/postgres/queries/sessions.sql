-- name: InsertRefreshToken
INSERT INTO refresh_tokens (tenant_id, user_id, session_id, token_hash, expires_at)
VALUES (app_tenant(), $1, $2, $3, $4);

-- name: RotateRefreshToken
-- Marks a live token used. Only one of two concurrent refreshes with the
-- same token gets the row back.
UPDATE refresh_tokens
SET rotated_at = now()
WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now()
RETURNING user_id, session_id;

-- name: SelectRefreshToken
SELECT session_id, rotated_at IS NOT NULL, revoked_at IS NOT NULL
FROM refresh_tokens WHERE token_hash = $1;

-- name: RevokeSession
UPDATE refresh_tokens SET revoked_at = now()
WHERE session_id = $1 AND revoked_at IS NULL;

-- name: RevokeUserSessions
UPDATE refresh_tokens SET revoked_at = now()
WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR session_id <> $2)
RETURNING session_id;

-- name: SelectRefreshTokenOwner
SELECT user_id, session_id FROM refresh_tokens WHERE token_hash = $1;

-- name: SelectSessionOwner
SELECT user_id FROM refresh_tokens WHERE session_id = $1 LIMIT 1;

-- name: ShareLockUser
-- Refreshes share-lock the user and revocations lock it exclusively, so a
-- revocation never misses a token that a concurrent refresh inserts.
SELECT id FROM users WHERE id = $1 FOR SHARE;

-- name: LockUser
SELECT id FROM users WHERE id = $1 FOR UPDATE;

-- name: DeleteExpiredRefreshTokens
-- Expired tokens can no longer be replayed, so they need not be kept for
-- reuse detection.
DELETE FROM refresh_tokens WHERE user_id = $1 AND expires_at < now() - interval '1 day';

-- name: SelectSessionsRevokedSince
-- Sessions revoked in the last $1 seconds: the ones whose access tokens may
-- still be alive, for rebuilding the revocation list Redis lost.
SELECT DISTINCT session_id::text FROM refresh_tokens
WHERE revoked_at > now() - make_interval(secs => $1);
