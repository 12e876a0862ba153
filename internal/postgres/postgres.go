// Package postgres implements the ticketing services on PostgreSQL through
// pgx. It owns every transaction: request-path SQL runs inside WithTenant,
// which scopes row-level security to one tenant for one transaction.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd-io/ticketd/internal/redact"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qCheckRuntimeRole = query("CheckRuntimeRole")
	qSetTenant        = query("SetTenant")
	qSetRole          = query("SetRole")
	qInsertAudit      = query("InsertAudit")
)

// DB is the application's connection pool, connected as the application role.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects a pool to url and checks that the server answers. maxConns
// of 0 keeps pgx's default.
func Open(ctx context.Context, url string, maxConns int32, opts ...Option) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// Keep connections open between bursts: an on-sale starts with a burst,
	// and opening connections then is what its first requests would wait on.
	cfg.MinConns = min(cfg.MaxConns, 8)
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping %s: %w", redact.URL(url), err)
	}
	return &DB{Pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that Postgres answers; it backs the readiness probe.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// ErrUnsafeRole is returned by CheckRuntimeRole when the connected role could
// read or change rows of every tenant.
var ErrUnsafeRole = errors.New("postgres: the database role could bypass row-level security")

// CheckRuntimeRole refuses a role that row-level security would not bind: a
// superuser, a BYPASSRLS role, or a role that owns (or may become the owner
// of) a table, since an owner can disable RLS. It also refuses a role that
// holds the platform's writes to tenants and domains without switching to
// PlatformRole, as a ticketing_app that inherits that role's privileges would.
func (db *DB) CheckRuntimeRole(ctx context.Context) error {
	var (
		role                                     string
		super, bypass, ownerOf, create, platform bool
	)
	err := db.Pool.QueryRow(ctx, qCheckRuntimeRole).Scan(&role, &super, &bypass, &ownerOf, &create, &platform)
	if err != nil {
		return fmt.Errorf("postgres: check role: %w", err)
	}
	var why []string
	if super {
		why = append(why, "is a superuser")
	}
	if bypass {
		why = append(why, "has BYPASSRLS")
	}
	if ownerOf {
		why = append(why, "owns or can become the owner of tables")
	}
	if create {
		why = append(why, "can create objects in schema public")
	}
	if platform {
		why = append(why, "can change tenants or their domains without SET ROLE "+PlatformRole+" (make it NOINHERIT)")
	}
	if len(why) > 0 {
		return fmt.Errorf("%w: role %q %v; connect as the application role (ticketing_app by default) through DATABASE_URL", ErrUnsafeRole, role, why)
	}
	return nil
}

// WithTenant runs fn in one transaction in which row-level security admits
// only rows of tenantID, and the acting user and role of ctx are visible to
// SQL as app.user_id and app.role. The settings are transaction-local
// (set_config(..., true)), so they never leak to the next borrower of the
// pooled connection. The transaction commits when fn returns nil.
func (db *DB) WithTenant(ctx context.Context, tenantID string, fn func(tx pgx.Tx) error) error {
	if tenantID == "" {
		return ticketing.Internal(errors.New("postgres: WithTenant without a tenant"))
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if err := setTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// InTenant is WithTenant for the tenant carried by ctx.
func (db *DB) InTenant(ctx context.Context, fn func(tx pgx.Tx) error) error {
	t := ticketing.TenantFromContext(ctx)
	if t == nil {
		return ticketing.Internal(errors.New("postgres: no tenant in context"))
	}
	return db.WithTenant(ctx, t.ID, fn)
}

// PlatformRole is the only role that may change tenants and their domains.
// The application role is a member that does not inherit its privileges:
// the platform API's transactions switch to it for those writes alone.
const PlatformRole = "ticketing_platform"

// asPlatform runs write as PlatformRole and then switches tx back to the
// role that logged in. The switch is transaction-local, like the tenant, so
// a failed write that aborts tx cannot leave the role behind either.
func asPlatform(ctx context.Context, tx pgx.Tx, write func(tx pgx.Tx) error) error {
	if _, err := tx.Exec(ctx, qSetRole, PlatformRole); err != nil {
		return fmt.Errorf("postgres: set role %s: %w", PlatformRole, err)
	}
	if err := write(tx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, qSetRole, "none"); err != nil {
		return fmt.Errorf("postgres: reset role: %w", err)
	}
	return nil
}

// setTenant scopes the rest of tx to tenantID and the actor of ctx.
func setTenant(ctx context.Context, tx pgx.Tx, tenantID string) error {
	a, _ := ticketing.ActorFromContext(ctx)
	if _, err := tx.Exec(ctx, qSetTenant, tenantID, a.UserID, a.Role); err != nil {
		return fmt.Errorf("postgres: set tenant: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction. The rollback of a failed transaction runs on
// a context of its own so that a cancelled request cannot leave it open.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer func() {
		if err != nil {
			rbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tx.Rollback(rbCtx)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// PostgreSQL error codes the storage layer translates.
const (
	codeUniqueViolation = "23505"
	codeInvalidText     = "22P02"
	codeRLSViolation    = "42501"
)

// pgError returns the PostgreSQL error in err's chain, or nil.
func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// isUniqueViolation reports whether err violates the named unique constraint.
func isUniqueViolation(err error, constraint string) bool {
	return isViolation(err, codeUniqueViolation, constraint)
}

// isViolation reports whether err is the PostgreSQL error code on the named
// constraint.
func isViolation(err error, code, constraint string) bool {
	pe := pgError(err)
	return pe != nil && pe.Code == code && pe.ConstraintName == constraint
}

// translate turns driver errors into application errors: no rows and rows of
// another tenant become NotFound (what names the entity), anything unexpected
// becomes Internal.
func translate(err error, what string) error {
	if err == nil || ticketing.AsError(err) != nil {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ticketing.NotFound(what)
	}
	if pe := pgError(err); pe != nil && (pe.Code == codeRLSViolation || pe.Code == codeInvalidText) {
		return ticketing.NotFound(what)
	}
	return ticketing.Internal(err)
}
