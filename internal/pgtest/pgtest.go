// Package pgtest gives each test a fresh PostgreSQL database cloned from a
// template that was migrated once. The template's name carries a hash of the
// migrations, so a changed migration builds a new template and unchanged ones
// are reused across runs. Tests connect as the application role, so
// row-level security binds them exactly as it binds the service.
//
// The server is TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), which must be
// a role that can create databases and roles.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redact"
	"github.com/ticketd-io/ticketd/migrations"
)

// DefaultAdminURL is used when TEST_DATABASE_URL is not set.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AppRole is the role the tests and the service connect as.
const AppRole = "ticketing_app"

// DB is one test's database.
type DB struct {
	// Name is the database name.
	Name string
	// AppURL connects as the application role (RLS applies).
	AppURL string
	// AdminURL connects as the administrative role of TEST_DATABASE_URL
	// (usually a superuser: RLS does not apply). Use it for fixtures and
	// assertions that must see every tenant, never for the code under test.
	AdminURL string
	// App is a pool on AppURL, wrapped as the service uses it.
	App *postgres.DB
	// Admin is a pool on AdminURL.
	Admin *pgxpool.Pool
}

// New creates a database for t from the migrated template and drops it when
// the test ends (set TICKETD_KEEP_TEST_DB=1 to keep the databases of failed
// tests for inspection).
func New(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	admin := adminURL()
	tpl, err := template(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	name := "ticketd_t_" + randomHex(6)
	if err := execAdmin(ctx, admin, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", ident(name), ident(tpl))); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	d := &DB{Name: name, AppURL: withDB(admin, name, AppRole), AdminURL: withDB(admin, name, "")}
	t.Cleanup(func() {
		if d.App != nil {
			d.App.Close()
		}
		if d.Admin != nil {
			d.Admin.Close()
		}
		if t.Failed() && os.Getenv("TICKETD_KEEP_TEST_DB") == "1" {
			t.Logf("pgtest: kept database %s", name)
			return
		}
		if err := execAdmin(ctx, admin, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident(name))); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	if d.App, err = openApp(ctx, d.AppURL); err != nil {
		t.Fatalf("pgtest: open app pool: %v", err)
	}
	if d.Admin, err = pgxpool.New(ctx, d.AdminURL); err != nil {
		t.Fatalf("pgtest: open admin pool: %v", err)
	}
	return d
}

// openApp connects a pool of up to 8 connections (what the concurrency
// tests write through) as the application role. Unlike postgres.Open it
// keeps no connections open in advance: those are for an on-sale's first
// burst, and in tests they would hold 8 connections per test whatever it
// does, which parallel tests and parallel runs on one server multiply past
// max_connections.
func openApp(ctx context.Context, url string) (*postgres.DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &postgres.DB{Pool: pool}, nil
}

func adminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// template returns the name of the migrated template database for the
// current migrations, building it under an advisory lock when it is missing.
// It is built under a temporary name and renamed when complete, so a crash
// mid-way never leaves a half-migrated template behind a valid name.
func template(ctx context.Context, admin string) (string, error) {
	name := "ticketd_tpl_" + migrationsHash()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect to %s (set TEST_DATABASE_URL): %w", redact.URL(admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('ticketd-pgtest-template'))"); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtext('ticketd-pgtest-template'))") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", ident(building))); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident(building)); err != nil {
		return "", err
	}
	m, err := postgres.NewMigrator(ctx, withDB(admin, building, ""))
	if err != nil {
		return "", err
	}
	_, err = m.Up(ctx)
	m.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", ident(building), ident(name))); err != nil {
		return "", err
	}
	return name, nil
}

// migrationsHash fingerprints every embedded migration file.
func migrationsHash() string {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := migrations.FS.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// execAdmin runs one statement on the admin connection's database.
func execAdmin(ctx context.Context, admin, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

// withDB returns base with its database replaced and, when user is not
// empty, its user replaced and password dropped.
func withDB(base, db, user string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(fmt.Sprintf("pgtest: TEST_DATABASE_URL: %v", err))
	}
	u.Path = "/" + db
	if user != "" {
		u.User = url.User(user)
	}
	return u.String()
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
