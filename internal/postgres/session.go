package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qInsertRefreshToken = query("InsertRefreshToken")
	qRotateRefreshToken = query("RotateRefreshToken")
	qSelectRefreshToken = query("SelectRefreshToken")
	qRevokeSession      = query("RevokeSession")
	qRevokeUserSessions = query("RevokeUserSessions")
)

// SessionService implements ticketing.SessionService with refresh tokens
// stored as SHA-256 hashes: a leaked table yields no usable token.
type SessionService struct {
	db  *DB
	ttl time.Duration
}

var _ ticketing.SessionService = (*SessionService)(nil)

// NewSessionService returns a SessionService whose refresh tokens live for
// ttl after their last use.
func NewSessionService(db *DB, ttl time.Duration) *SessionService {
	return &SessionService{db: db, ttl: ttl}
}

var errInvalidRefreshToken = ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeInvalidToken, "the refresh token is invalid, expired or revoked; sign in again")

// StartSession implements ticketing.SessionService.
func (s *SessionService) StartSession(ctx context.Context, userID string) (ticketing.Session, error) {
	var sess ticketing.Session
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
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
		var userID, sessionID string
		err := tx.QueryRow(ctx, qRotateRefreshToken, hash).Scan(&userID, &sessionID)
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
		if u, err = scanUser(tx.QueryRow(ctx, qSelectUser, userID)); err != nil {
			return err
		}
		sess, err = s.issue(ctx, tx, userID, sessionID)
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
		var rotated, revoked bool
		err := tx.QueryRow(ctx, qSelectRefreshToken, auth.HashRefreshToken(refreshToken)).Scan(&sessionID, &rotated, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return errInvalidRefreshToken
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qRevokeSession, sessionID)
		return err
	})
	return sessionID, translate(err, "session")
}

// RevokeSession implements ticketing.SessionService.
func (s *SessionService) RevokeSession(ctx context.Context, sessionID string) error {
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, qRevokeSession, sessionID)
		return err
	})
	return translate(err, "session")
}

// RevokeUserSessions implements ticketing.SessionService.
func (s *SessionService) RevokeUserSessions(ctx context.Context, userID, keep string) ([]string, error) {
	var keepArg *string
	if keep != "" {
		keepArg = &keep
	}
	var ids []string
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qRevokeUserSessions, userID, keepArg)
		if err != nil {
			return err
		}
		all, err := pgx.CollectRows(rows, pgx.RowTo[string])
		seen := map[string]bool{}
		for _, id := range all {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return err
	})
	return ids, translate(err, "session")
}
