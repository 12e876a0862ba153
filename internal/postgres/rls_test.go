package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// rlsProbe creates a tenant-owned table with the same pattern the migrations
// use (enable_tenant_rls) and full DML grants, so that every command can be
// checked against the policy, and returns two tenants with one row each.
func rlsProbe(t *testing.T, db *pgtest.DB) (a, b *ticketing.Tenant) {
	t.Helper()
	ctx := context.Background()
	_, err := db.Admin.Exec(ctx, `
		SET ROLE ticketing_owner;
		CREATE TABLE rls_probe (id serial PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants(id), note text NOT NULL);
		SELECT enable_tenant_rls('rls_probe');
		GRANT SELECT, INSERT, UPDATE, DELETE ON rls_probe TO ticketing_app;
		GRANT USAGE ON SEQUENCE rls_probe_id_seq TO ticketing_app;
		RESET ROLE;`)
	if err != nil {
		t.Fatal(err)
	}
	a = mustTenant(t, db, "tenant-a")
	b = mustTenant(t, db, "tenant-b")
	for _, tn := range []*ticketing.Tenant{a, b} {
		err := db.App.WithTenant(ctx, tn.ID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO rls_probe (tenant_id, note) VALUES ($1, $2)", tn.ID, tn.Slug)
			return err
		})
		if err != nil {
			t.Fatalf("insert own row for %s: %v", tn.Slug, err)
		}
	}
	return a, b
}

// testHasher is argon2id with parameters cheap enough for tests.
var testHasher = auth.Hasher{Memory: 1024, Iterations: 1, Parallelism: 1}

func mustTenant(t testing.TB, db *pgtest.DB, slug string) *ticketing.Tenant {
	t.Helper()
	tn, _, err := postgres.NewTenantService(db.App, testHasher).CreateTenant(context.Background(), ticketing.NewTenant{
		Slug: slug, Name: slug, Currency: "NGN",
		Admin: ticketing.NewUser{Email: "admin@" + slug + ".test", Password: "admin-password", Name: "Admin"},
	})
	if err != nil {
		t.Fatalf("create tenant %s: %v", slug, err)
	}
	return tn
}

func TestRLSIsolatesTenants(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a, b := rlsProbe(t, db)
	ctx := context.Background()

	asA := func(fn func(tx pgx.Tx) error) error { return db.App.WithTenant(ctx, a.ID, fn) }

	t.Run("selectSeesOwnRowsOnly", func(t *testing.T) {
		var notes []string
		err := asA(func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, "SELECT note FROM rls_probe ORDER BY id")
			var err error
			notes, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil || len(notes) != 1 || notes[0] != "tenant-a" {
			t.Fatalf("tenant A sees %v (err %v), want only its own row", notes, err)
		}
	})

	t.Run("selectByOtherTenantIDFindsNothing", func(t *testing.T) {
		var n int
		err := asA(func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM rls_probe WHERE tenant_id = $1", b.ID).Scan(&n)
		})
		if err != nil || n != 0 {
			t.Fatalf("tenant A counted %d rows of B (err %v)", n, err)
		}
	})

	t.Run("updateAndDeleteOfOtherTenantAffectNothing", func(t *testing.T) {
		err := asA(func(tx pgx.Tx) error {
			for _, stmt := range []string{
				"UPDATE rls_probe SET note = 'hijacked' WHERE tenant_id = $1",
				"DELETE FROM rls_probe WHERE tenant_id = $1",
			} {
				tag, err := tx.Exec(ctx, stmt, b.ID)
				if err != nil {
					return err
				}
				if tag.RowsAffected() != 0 {
					t.Errorf("%q affected %d rows of tenant B", stmt, tag.RowsAffected())
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var note string
		if err := db.Admin.QueryRow(ctx, "SELECT note FROM rls_probe WHERE tenant_id = $1", b.ID).Scan(&note); err != nil || note != "tenant-b" {
			t.Fatalf("tenant B's row is %q (err %v), want it untouched", note, err)
		}
	})

	t.Run("updateMovingOwnRowToOtherTenantFails", func(t *testing.T) {
		err := asA(func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "UPDATE rls_probe SET tenant_id = $1", b.ID)
			return err
		})
		assertRLSViolation(t, err)
	})

	t.Run("insertWithOtherTenantIDFails", func(t *testing.T) {
		err := asA(func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO rls_probe (tenant_id, note) VALUES ($1, 'forged')", b.ID)
			return err
		})
		assertRLSViolation(t, err)
	})

	t.Run("auditLogIsIsolatedToo", func(t *testing.T) {
		var n int
		err := asA(func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE tenant_id <> $1", a.ID).Scan(&n)
		})
		if err != nil || n != 0 {
			t.Fatalf("tenant A sees %d audit rows of others (err %v)", n, err)
		}
	})
}

func TestRLSWithoutTenantSeesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a, _ := rlsProbe(t, db)
	ctx := context.Background()

	// One connection, so the query without a tenant runs on the very
	// connection that just served tenant A: the placeholder setting now
	// reads '' rather than NULL, and must still match nothing.
	one, err := postgres.Open(ctx, db.AppURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	var seen int
	if err := one.WithTenant(ctx, a.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM rls_probe").Scan(&seen)
	}); err != nil || seen != 1 {
		t.Fatalf("tenant A saw %d rows (err %v), want 1", seen, err)
	}

	var setting string
	var n int
	if err := one.Pool.QueryRow(ctx, "SELECT current_setting('app.tenant_id', true), (SELECT count(*) FROM rls_probe)").Scan(&setting, &n); err != nil {
		t.Fatal(err)
	}
	if setting != "" || n != 0 {
		t.Fatalf("after tenant A's transaction, no tenant sees setting %q and %d rows; want '' and 0", setting, n)
	}
	if _, err := one.Pool.Exec(ctx, "INSERT INTO rls_probe (tenant_id, note) VALUES ($1, 'no tenant')", a.ID); err == nil {
		t.Fatal("insert without a tenant succeeded")
	}
	if err := one.InTenant(ctx, func(pgx.Tx) error { return nil }); ticketing.ErrorKind(err) != ticketing.KindInternal || err == nil {
		t.Fatalf("InTenant without a tenant in the context: %v, want an internal error", err)
	}
}

func assertRLSViolation(t *testing.T, err error) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("got %v, want a row-level security violation (42501)", err)
	}
}

// TestEveryTenantTableIsForcedUnderRLS keeps later migrations honest: every
// table with a tenant_id column has RLS enabled and forced and carries the
// tenant_isolation policy, and the application role owns nothing.
func TestEveryTenantTableIsForcedUnderRLS(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rows, err := db.Admin.Query(context.Background(), `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
		       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation'),
		       pg_get_userbyid(c.relowner)
		FROM pg_class c
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace
		  AND c.relname NOT IN ('tenant_domains', 'payment_routes')`) // routing tables: a key to its tenant, read before any tenant is known
	if err != nil {
		t.Fatal(err)
	}
	type table struct {
		name                  string
		enabled, forced, poli bool
		owner                 string
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var x table
		return x, r.Scan(&x.name, &x.enabled, &x.forced, &x.poli, &x.owner)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatal("found no tenant-owned tables")
	}
	for _, x := range tables {
		if !x.enabled || !x.forced || !x.poli || x.owner != postgres.OwnerRole {
			t.Errorf("table %s: rls=%v forced=%v policy=%v owner=%s; want enable_tenant_rls and owner %s",
				x.name, x.enabled, x.forced, x.poli, x.owner, postgres.OwnerRole)
		}
	}
}
