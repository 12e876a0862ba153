package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qInsertRefreshToken         = query("InsertRefreshToken")
	qRotateRefreshToken         = query("RotateRefreshToken")
	qSelectRefreshToken         = query("SelectRefreshToken")
	qSelectRefreshTokenOwner    = query("SelectRefreshTokenOwner")
	qSelectSessionOwner         = query("SelectSessionOwner")
	qShareLockUser              = query("ShareLockUser")
	qLockUser                   = query("LockUser")
	qDeleteExpiredRefreshToken  = query("DeleteExpiredRefreshTokens")
	qRevokeSession              = query("RevokeSession")
	qSelectSessionsRevokedSince = query("SelectSessionsRevokedSince")
	qRevokeUserSessions         = query("RevokeUserSessions")
)

// SessionService implements ticketing.SessionService with refresh tokens
// stored as SHA-256 hashes: a leaked table yields no usable token.
//
// Refreshes share-lock the user's row and revocations lock it exclusively.
// Without that, a revocation running while a refresh commits could miss the
// token the refresh inserts, and a "signed out everywhere" session would
// live on.
type SessionService struct {
	db     *DB
	hasher ticketing.PasswordHasher
	ttl    time.Duration
}

var _ ticketing.SessionService = (*SessionService)(nil)

// NewSessionService returns a SessionService whose refresh tokens live for
// ttl; hasher hashes the passwords of accounts created by SignUp.
func NewSessionService(db *DB, hasher ticketing.PasswordHasher, ttl time.Duration) *SessionService {
	return &SessionService{db: db, hasher: hasher, ttl: ttl}
}

var errInvalidRefreshToken = ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeInvalidToken, "the refresh token is invalid, expired or revoked; sign in again")

// SignUp implements ticketing.SessionService.
func (s *SessionService) SignUp(ctx context.Context, n ticketing.NewUser) (*ticketing.User, ticketing.Session, error) {
	n.Role = ticketing.RoleUser
	if err := n.Validate(""); err != nil {
		return nil, ticketing.Session{}, err
	}
	hash, err := s.hasher.Hash(n.Password)
	if err != nil {
		return nil, ticketing.Session{}, ticketing.Internal(err)
	}
	var (
		u    *ticketing.User
		sess ticketing.Session
	)
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = insertUser(ctx, tx, n, hash); err != nil {
			return err
		}
		sess, err = s.issue(ctx, tx, u.ID, ticketing.NewID())
		return err
	})
	if err != nil {
		return nil, ticketing.Session{}, translate(err, "user")
	}
	return u, sess, nil
}

// StartSession implements ticketing.SessionService. It also forgets the
// user's long-expired tokens, which can no longer be replayed.
func (s *SessionService) StartSession(ctx context.Context, userID string) (ticketing.Session, error) {
	var sess ticketing.Session
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, qShareLockUser, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qDeleteExpiredRefreshToken, userID); err != nil {
			return err
		}
		var err error
		sess, err = s.issue(ctx, tx, userID, ticketing.NewID())
		return err
	})
	return sess, translate(err, "user")
}

// issue adds a fresh refresh token to a session.
func (s *SessionService) issue(ctx context.Context, tx pgx.Tx, userID, sessionID string) (ticketing.Session, error) {
	token, hash := auth.NewRefreshToken()
	expires := time.Now().Add(s.ttl).UTC()
	if _, err := tx.Exec(ctx, qInsertRefreshToken, userID, sessionID, hash, expires); err != nil {
		return ticketing.Session{}, err
	}
	return ticketing.Session{ID: sessionID, UserID: userID, RefreshToken: token, RefreshExpiresAt: expires}, nil
}

// RefreshSession implements ticketing.SessionService.
func (s *SessionService) RefreshSession(ctx context.Context, refreshToken string) (*ticketing.User, ticketing.Session, error) {
	hash := auth.HashRefreshToken(refreshToken)
	var (
		u        *ticketing.User
		sess     ticketing.Session
		replayed string
	)
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var owner, sessionID string
		err := tx.QueryRow(ctx, qSelectRefreshTokenOwner, hash).Scan(&owner, &sessionID)
		if errors.Is(err, pgx.ErrNoRows) {
			return errInvalidRefreshToken
		}
		if err != nil {
			return err
		}
		if err := lockUser(ctx, tx, qShareLockUser, owner); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, qRotateRefreshToken, hash).Scan(&owner, &sessionID)
		if errors.Is(err, pgx.ErrNoRows) {
			// Commit the revocation of a replayed token's session.
			replayed, err = revokeIfReplayed(ctx, tx, hash)
			if err == nil && replayed == "" {
				err = errInvalidRefreshToken
			}
			return err
		}
		if err != nil {
			return err
		}
		if u, err = scanUser(tx.QueryRow(ctx, qSelectUser, owner)); err != nil {
			return err
		}
		sess, err = s.issue(ctx, tx, owner, sessionID)
		return err
	})
	if replayed != "" {
		return nil, ticketing.Session{ID: replayed}, errInvalidRefreshToken
	}
	if err != nil {
		return nil, ticketing.Session{}, translate(err, "session")
	}
	return u, sess, nil
}

// revokeIfReplayed handles a token that could not be rotated. One rotated
// before and not yet revoked was replayed, perhaps by a thief: its whole
// session is revoked and its id returned. Unknown, expired and revoked
// tokens change nothing.
func revokeIfReplayed(ctx context.Context, tx pgx.Tx, hash []byte) (string, error) {
	var sessionID string
	var rotated, revoked bool
	err := tx.QueryRow(ctx, qSelectRefreshToken, hash).Scan(&sessionID, &rotated, &revoked)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (!rotated || revoked)) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if _, err = tx.Exec(ctx, qRevokeSession, sessionID); err != nil {
		return "", err
	}
	return sessionID, nil
}

// EndSession implements ticketing.SessionService.
func (s *SessionService) EndSession(ctx context.Context, refreshToken string) (string, error) {
	var sessionID string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var owner string
		err := tx.QueryRow(ctx, qSelectRefreshTokenOwner, auth.HashRefreshToken(refreshToken)).Scan(&owner, &sessionID)
		if errors.Is(err, pgx.ErrNoRows) {
			return errInvalidRefreshToken
		}
		if err != nil {
			return err
		}
		return revokeSession(ctx, tx, owner, sessionID)
	})
	return sessionID, translate(err, "session")
}

// RevokedSessions returns the sessions of the context's tenant revoked
// within the last window: Postgres is the truth of revocations, and the
// Redis list is rebuilt from it when Redis lost its data.
func (s *SessionService) RevokedSessions(ctx context.Context, window time.Duration) ([]string, error) {
	var ids []string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qSelectSessionsRevokedSince, window.Seconds())
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return ids, translate(err, "session")
}

// RevokeSession implements ticketing.SessionService.
func (s *SessionService) RevokeSession(ctx context.Context, sessionID string) error {
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var owner string
		err := tx.QueryRow(ctx, qSelectSessionOwner, sessionID).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // nothing to revoke
		}
		if err != nil {
			return err
		}
		return revokeSession(ctx, tx, owner, sessionID)
	})
	return translate(err, "session")
}

func revokeSession(ctx context.Context, tx pgx.Tx, owner, sessionID string) error {
	if err := lockUser(ctx, tx, qLockUser, owner); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, qRevokeSession, sessionID)
	return err
}

// RevokeUserSessions implements ticketing.SessionService.
func (s *SessionService) RevokeUserSessions(ctx context.Context, userID, keep string) ([]string, error) {
	var ids []string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		ids, err = revokeUserSessions(ctx, tx, userID, keep)
		return err
	})
	return ids, translate(err, "session")
}

// revokeUserSessions revokes, inside tx, every open session of the user but
// keep, and returns their ids.
func revokeUserSessions(ctx context.Context, tx pgx.Tx, userID, keep string) ([]string, error) {
	if err := lockUser(ctx, tx, qLockUser, userID); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, qRevokeUserSessions, userID, nullIfEmpty(keep))
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(ids)
	return slices.Compact(ids), err
}

// lockUser takes q's lock (qShareLockUser or qLockUser) on the user's row.
func lockUser(ctx context.Context, tx pgx.Tx, q, userID string) error {
	var id string
	return tx.QueryRow(ctx, q, userID).Scan(&id)
}
