package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ticketd-io/ticketd/migrations"
)

// OwnerRole owns every schema object; migrations run as it.
const OwnerRole = "ticketing_owner"

// Migrator applies the embedded migrations as the owner role.
type Migrator struct {
	pool     *pgxpool.Pool
	db       *sql.DB
	provider *goose.Provider
}

// MigrationState is one migration and whether it is applied.
type MigrationState struct {
	Version   int64
	Name      string
	AppliedAt time.Time // zero when pending
}

// NewMigrator prepares to migrate the database of ownerURL: it creates the
// database when it is missing, runs the role bootstrap, and connects with
// every session switched to the owner role so that the objects it creates
// belong to that role and not to the (often superuser) login role.
func NewMigrator(ctx context.Context, ownerURL string) (*Migrator, error) {
	cfg, err := pgxpool.ParseConfig(ownerURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse MIGRATIONS_DATABASE_URL: %w", err)
	}
	if err := ensureDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	if err := bootstrapRoles(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	cfg.MaxConns = 2
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+OwnerRole)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect as owner: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		pool.Close()
		return nil, err
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		_ = db.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: load migrations: %w", err)
	}
	return &Migrator{pool: pool, db: db, provider: provider}, nil
}

// Close releases the migrator's connections.
func (m *Migrator) Close() {
	_ = m.db.Close()
	m.pool.Close()
}

// Up applies every pending migration and returns the names it applied.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate up: %w", err)
	}
	names := make([]string, 0, len(res))
	for _, r := range res {
		names = append(names, r.Source.Path)
	}
	return names, nil
}

// Down rolls back the most recent migration and returns its name.
func (m *Migrator) Down(ctx context.Context) (string, error) {
	res, err := m.provider.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: migrate down: %w", err)
	}
	return res.Source.Path, nil
}

// Status lists every migration with the time it was applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationState, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate status: %w", err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationState{Version: s.Source.Version, Name: s.Source.Path, AppliedAt: s.AppliedAt})
	}
	return out, nil
}

// ensureDatabase creates the target database when it does not exist, through
// the server's maintenance database. Without the right to do so it leaves the
// error to the first real connection.
func ensureDatabase(ctx context.Context, target *pgx.ConnConfig) error {
	maint := target.Copy()
	maint.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, maint)
	if err != nil {
		return nil
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", target.Database).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: look up database: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{target.Database}.Sanitize())
	if pe := pgError(err); pe != nil && pe.Code == "42P04" { // created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres: create database %q: %w", target.Database, err)
	}
	return nil
}

// bootstrapRoles runs migrations/bootstrap/roles.sql as the login role.
func bootstrapRoles(ctx context.Context, cfg *pgx.ConnConfig) error {
	script, err := migrations.FS.ReadFile("bootstrap/roles.sql")
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connect to migrate: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, string(script)); err != nil {
		return fmt.Errorf("postgres: bootstrap roles (the migrating role needs CREATEROLE, or the roles must exist): %w", err)
	}
	return nil
}
