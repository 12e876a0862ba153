package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qInsertUser             = query("InsertUser")
	qSelectUser             = query("SelectUser")
	qSelectUserCredentials  = query("SelectUserCredentials")
	qSelectUserPasswordHash = query("SelectUserPasswordHash")
	qListUsers              = query("ListUsers")
	qLockAdmins             = query("LockAdmins")
	qCountAdmins            = query("CountAdmins")
	qUpdateUser             = query("UpdateUser")
	qUpdateProfile          = query("UpdateProfile")
	qUpdatePasswordHash     = query("UpdatePasswordHash")
	qUserExists             = query("UserExists")
)

// UserService implements ticketing.UserService for the tenant of the context.
type UserService struct {
	db     *DB
	hasher ticketing.PasswordHasher
}

var _ ticketing.UserService = (*UserService)(nil)

// NewUserService returns a UserService that hashes passwords with hasher.
func NewUserService(db *DB, hasher ticketing.PasswordHasher) *UserService {
	return &UserService{db: db, hasher: hasher}
}

// CreateUser implements ticketing.UserService.
func (s *UserService) CreateUser(ctx context.Context, n ticketing.NewUser) (*ticketing.User, error) {
	if err := n.Validate(""); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(n.Password)
	if err != nil {
		return nil, err
	}
	var u *ticketing.User
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = insertUser(ctx, tx, n, hash)
		return err
	})
	return u, translate(err, "user")
}

// insertUser inserts a validated account, whose password was hashed before
// the transaction began, into the transaction's tenant.
func insertUser(ctx context.Context, tx pgx.Tx, n ticketing.NewUser, hash string) (*ticketing.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, qInsertUser, n.Email, n.Name, n.Role, hash))
	if isUniqueViolation(err, "users_tenant_email_key") {
		return nil, ticketing.Errorf(ticketing.KindConflict, ticketing.CodeEmailTaken, "an account with email %s already exists", n.Email)
	}
	return u, err
}

var errInvalidCredentials = ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeInvalidCredentials, "email or password is incorrect")

// Authenticate implements ticketing.UserService. Hashing runs outside any
// transaction so that no connection waits on it, and an unknown email costs
// the same hashing time as a wrong password, so timing reveals no account.
func (s *UserService) Authenticate(ctx context.Context, email, password string) (*ticketing.User, error) {
	email, ok := ticketing.NormalizeEmail(email)
	if !ok || password == "" {
		s.hasher.VerifyDummy(password)
		return nil, errInvalidCredentials
	}
	var (
		u    *ticketing.User
		hash string
	)
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, qSelectUserCredentials, email), &hash)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		s.hasher.VerifyDummy(password)
		return nil, errInvalidCredentials
	}
	if err != nil {
		return nil, translate(err, "user")
	}
	ok, rehash, err := s.hasher.Verify(hash, password)
	if err != nil {
		return nil, ticketing.Internal(err)
	}
	if !ok {
		// Who is being guessed at is worth keeping; a failure to keep it
		// does not change the answer.
		_ = s.db.InTenant(ctx, func(tx pgx.Tx) error {
			return writeAudit(ctx, tx, "user.signin_failed", "user", u.ID, map[string]any{})
		})
		return nil, errInvalidCredentials
	}
	if rehash {
		// Best effort: the signin succeeds whether or not the upgrade does.
		if newHash, err := s.hasher.Hash(password); err == nil {
			_ = s.db.InTenant(ctx, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, qUpdatePasswordHash, u.ID, hash, newHash)
				return err
			})
		}
	}
	return u, nil
}

// FindUserByID implements ticketing.UserService.
func (s *UserService) FindUserByID(ctx context.Context, id string) (*ticketing.User, error) {
	var u *ticketing.User
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, qSelectUser, id))
		return err
	})
	return u, translate(err, "user")
}

// FindUsers implements ticketing.UserService.
func (s *UserService) FindUsers(ctx context.Context, f ticketing.UserFilter) ([]*ticketing.User, string, error) {
	after, afterID, err := cursorArgs(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	email := likePattern(strings.ToLower(f.Email))
	size := f.Page.Size()
	var users []*ticketing.User
	err = s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qListUsers, after, afterID, f.Role, email, size+1)
		if err != nil {
			return err
		}
		users, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*ticketing.User, error) { return scanUser(r) })
		return err
	})
	if err != nil {
		return nil, "", translate(err, "user")
	}
	users, next := trimPage(users, size, func(x *ticketing.User) (time.Time, string) { return x.CreatedAt, x.ID })
	return users, next, nil
}

// likeEscaper escapes LIKE wildcards in user input.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// UpdateUser implements ticketing.UserService.
func (s *UserService) UpdateUser(ctx context.Context, id string, upd ticketing.UserUpdate) (*ticketing.User, []string, error) {
	if err := upd.Validate(); err != nil {
		return nil, nil, err
	}
	var (
		u     *ticketing.User
		ended []string
	)
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		if upd.Role != nil && *upd.Role != ticketing.RoleAdmin {
			if err := ensureAnotherAdmin(ctx, tx, id); err != nil {
				return err
			}
		}
		before, err := scanUser(tx.QueryRow(ctx, qSelectUser, id))
		if err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(ctx, qUpdateUser, id, upd.Role, upd.Name, upd.Version))
		if errors.Is(err, pgx.ErrNoRows) {
			return staleOrMissing(ctx, tx, id)
		}
		if err != nil {
			return err
		}
		if u.Role != before.Role {
			// The new role applies from the user's next sign-in.
			if ended, err = revokeUserSessions(ctx, tx, id, ""); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, "user.update", "user", id, map[string]any{"role": upd.Role, "name": upd.Name, "version": u.Version})
	})
	if err != nil {
		return nil, nil, translate(err, "user")
	}
	return u, ended, nil
}

// ensureAnotherAdmin refuses to demote id when it is the tenant's last admin.
func ensureAnotherAdmin(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, qLockAdmins); err != nil {
		return err
	}
	var others, admins int
	if err := tx.QueryRow(ctx, qCountAdmins, id).Scan(&others, &admins); err != nil {
		return err
	}
	if others == 0 && admins > 0 {
		return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeLastAdmin, "the last ADMIN of an organizer cannot be demoted; promote another user first")
	}
	return nil
}

// staleOrMissing explains why a versioned update matched no row.
func staleOrMissing(ctx context.Context, tx pgx.Tx, id string) error {
	var exists bool
	if err := tx.QueryRow(ctx, qUserExists, id).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return ticketing.NotFound("user")
	}
	return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeStaleVersion, "the user was changed since you read it; reload and retry")
}

// UpdateProfile implements ticketing.UserService. The current password is
// checked and the new one hashed outside any transaction; the change then
// applies only if the password did not change meanwhile.
func (s *UserService) UpdateProfile(ctx context.Context, upd ticketing.ProfileUpdate) (*ticketing.User, []string, error) {
	if err := upd.Validate(); err != nil {
		return nil, nil, err
	}
	actor, _ := ticketing.ActorFromContext(ctx)
	var oldHash, newHash *string
	if upd.Password != nil {
		var current string
		err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, qSelectUserPasswordHash, actor.UserID).Scan(&current)
		})
		if err != nil {
			return nil, nil, translate(err, "user")
		}
		ok, _, err := s.hasher.Verify(current, upd.CurrentPassword)
		if err != nil {
			return nil, nil, ticketing.Internal(err)
		}
		if !ok {
			return nil, nil, ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeInvalidCredentials, "currentPassword is incorrect")
		}
		h, err := s.hasher.Hash(*upd.Password)
		if err != nil {
			return nil, nil, ticketing.Internal(err)
		}
		oldHash, newHash = &current, &h
	}
	var (
		u     *ticketing.User
		ended []string
	)
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, qUpdateProfile, actor.UserID, upd.Name, newHash, upd.Version, oldHash))
		if errors.Is(err, pgx.ErrNoRows) {
			if err := staleOrMissing(ctx, tx, actor.UserID); ticketing.ErrorKind(err) == ticketing.KindNotFound {
				return err
			}
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeStaleVersion, "your account was changed meanwhile; reload and retry")
		}
		if err != nil {
			return err
		}
		if newHash != nil {
			if ended, err = revokeUserSessions(ctx, tx, actor.UserID, upd.KeepSession); err != nil {
				return err
			}
		}
		return writeAudit(ctx, tx, "user.profile.update", "user", actor.UserID,
			map[string]any{"name": upd.Name, "passwordChanged": newHash != nil, "version": u.Version})
	})
	if err != nil {
		return nil, nil, translate(err, "user")
	}
	return u, ended, nil
}

// scanUser reads a user row, then any extra columns into extra.
func scanUser(row pgx.Row, extra ...any) (*ticketing.User, error) {
	var u ticketing.User
	dest := append([]any{&u.ID, &u.TenantID, &u.Email, &u.Name, &u.Role, &u.Version, &u.CreatedAt, &u.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return &u, nil
}

// trimPage cuts a keyset query's size+1 rows to size and returns the cursor
// of the next page: the key of its last row, or "" when there is no more.
func trimPage[T any](rows []T, size int, key func(T) (time.Time, string)) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	at, id := key(rows[size-1])
	return rows, encodeCursor(at, id)
}

// cursorArgs decodes an optional keyset cursor into query arguments.
func cursorArgs(cursor string) (*time.Time, *string, error) {
	if cursor == "" {
		return nil, nil, nil
	}
	at, id, err := decodeCursor(cursor)
	if err != nil {
		return nil, nil, err
	}
	return &at, &id, nil
}
