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
// table with a tenant_id column, routing tables included, has RLS enabled
// and forced and carries policies, the application role owns nothing, and
// no policy lets the application role write a row of another tenant.
func TestEveryTenantTableIsForcedUnderRLS(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	rows, err := db.Admin.Query(ctx, `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
		       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid),
		       pg_get_userbyid(c.relowner)
		FROM pg_class c
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace`)
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
			t.Errorf("table %s: rls=%v forced=%v policies=%v owner=%s; want RLS enabled and forced, policies, and owner %s",
				x.name, x.enabled, x.forced, x.poli, x.owner, postgres.OwnerRole)
		}
	}

	// A permissive policy for a write command that applies to the
	// application role (through PUBLIC or a role whose privileges it has)
	// must be enable_tenant_rls's, as Postgres deparses it. Policies
	// for reading only, or for a role the application must switch to
	// (ticketing_platform), are free.
	const tenantOnly = "(tenant_id = ( SELECT app_tenant() AS app_tenant))"
	rows, err = db.Admin.Query(ctx, `
		SELECT c.relname, p.polname, p.polcmd::text,
		       COALESCE(pg_get_expr(p.polqual, p.polrelid), ''), COALESCE(pg_get_expr(p.polwithcheck, p.polrelid), '')
		FROM pg_policy p
		JOIN pg_class c ON c.oid = p.polrelid
		WHERE p.polpermissive AND p.polcmd <> 'r'
		  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
		  AND EXISTS (SELECT 1 FROM unnest(p.polroles) r WHERE r = 0 OR pg_has_role($1, r, 'USAGE'))
		ORDER BY 1, 2`, pgtest.AppRole)
	if err != nil {
		t.Fatal(err)
	}
	type policy struct{ table, name, cmd, using, check string }
	policies, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (policy, error) {
		var x policy
		return x, r.Scan(&x.table, &x.name, &x.cmd, &x.using, &x.check)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		// INSERT has no USING and DELETE no WITH CHECK.
		if (p.cmd != "a" && p.using != tenantOnly) || (p.cmd != "d" && p.check != tenantOnly) {
			t.Errorf("policy %s on %s (command %s) lets %s write with USING %q WITH CHECK %q; want %s",
				p.name, p.table, p.cmd, pgtest.AppRole, p.using, p.check, tenantOnly)
		}
	}
}

// TestTenantPathCannotRewriteRouting plays an injection on a tenant's
// request path: SQL of the attacker's choosing, run as the application role
// inside tenant A's transaction. It must not be able to change tenants or
// their domains (not even A's own: those are the platform's), nor route
// another tenant's payment reference; while the routing tables stay readable
// before any tenant is known, and the platform path still writes them.
func TestTenantPathCannotRewriteRouting(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a := mustTenant(t, db, "tenant-a")
	b := mustTenant(t, db, "tenant-b")
	tenants := postgres.NewTenantService(db.App, testHasher)
	if _, err := tenants.AddTenantDomain(ctx, b.ID, "tickets.b.test"); err != nil {
		t.Fatalf("platform adds B's domain: %v", err)
	}
	if _, err := db.Admin.Exec(ctx, "INSERT INTO payment_routes (reference, tenant_id) VALUES ('bk-b-1', $1)", b.ID); err != nil {
		t.Fatal(err)
	}

	refused := []struct {
		name, sql string
		args      []any
	}{
		{"insertDomainForOtherTenantRefused", "INSERT INTO tenant_domains (domain, tenant_id) VALUES ('evil.test', $1)", []any{b.ID}},
		{"insertDomainForOwnTenantRefused", "INSERT INTO tenant_domains (domain, tenant_id) VALUES ('a.test', $1)", []any{a.ID}},
		{"deleteOtherTenantDomainRefused", "DELETE FROM tenant_domains WHERE tenant_id = $1", []any{b.ID}},
		{"moveOtherTenantDomainRefused", "UPDATE tenant_domains SET tenant_id = $1 WHERE domain = 'tickets.b.test'", []any{a.ID}},
		{"insertTenantRefused", "INSERT INTO tenants (slug, name, currency) VALUES ('forged', 'Forged', 'NGN')", nil},
		{"updateOtherTenantSubaccountRefused", "UPDATE tenants SET paystack_subaccount = 'ACCT_evil' WHERE id = $1", []any{b.ID}},
		{"updateOwnTenantSubaccountRefused", "UPDATE tenants SET paystack_subaccount = 'ACCT_evil' WHERE id = $1", []any{a.ID}},
		{"updateOwnTenantFeeRefused", "UPDATE tenants SET platform_fee_bps = 0, status = 'active' WHERE id = $1", []any{a.ID}},
		{"updateOwnTenantBrandingRefused", "UPDATE tenants SET name = 'Defaced', logo_url = 'https://evil.test/x.png' WHERE id = $1", []any{a.ID}},
		{"updateOtherTenantBrandingRefused", "UPDATE tenants SET accent_color = '#000000' WHERE id = $1", []any{b.ID}},
		{"insertPaymentRouteForOtherTenantRefused", "INSERT INTO payment_routes (reference, tenant_id) VALUES ('bk-forged-1', $1)", []any{b.ID}},
		{"redirectOtherTenantPaymentRouteRefused", "UPDATE payment_routes SET tenant_id = $1 WHERE reference = 'bk-b-1'", []any{a.ID}},
		{"deleteOtherTenantPaymentRouteRefused", "DELETE FROM payment_routes WHERE reference = 'bk-b-1'", nil},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			err := db.App.WithTenant(ctx, a.ID, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, c.sql, c.args...)
				return err
			})
			assertRLSViolation(t, err)
		})
	}

	t.Run("nothingChanged", func(t *testing.T) {
		var domains, routes, forged int
		var subaccounts string
		err := db.Admin.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM tenant_domains WHERE domain = 'tickets.b.test' AND tenant_id = $1),
			       (SELECT count(*) FROM payment_routes WHERE reference = 'bk-b-1' AND tenant_id = $1),
			       (SELECT count(*) FROM tenant_domains WHERE domain <> 'tickets.b.test')
			         + (SELECT count(*) FROM tenants WHERE slug = 'forged'),
			       (SELECT string_agg(paystack_subaccount, '') FROM tenants)`, b.ID).Scan(&domains, &routes, &forged, &subaccounts)
		if err != nil {
			t.Fatal(err)
		}
		if domains != 1 || routes != 1 || forged != 0 || subaccounts != "" {
			t.Fatalf("B's domain %d, B's route %d, forged rows %d, subaccounts %q; want 1, 1, 0, none", domains, routes, forged, subaccounts)
		}
	})

	t.Run("ownPaymentRouteInserted", func(t *testing.T) {
		err := db.App.WithTenant(ctx, a.ID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO payment_routes (reference, tenant_id) VALUES ('bk-a-1', app_tenant())")
			return err
		})
		if err != nil {
			t.Fatalf("tenant A routes its own reference: %v", err)
		}
	})

	t.Run("routingReadWithoutTenant", func(t *testing.T) {
		got, err := tenants.ResolveTenant(ctx, "tickets.b.test", "")
		if err != nil || got.ID != b.ID {
			t.Fatalf("resolve B's domain without a tenant: %v (err %v), want %s", got, err, b.ID)
		}
		id, err := postgres.NewPaymentStore(db.App).TenantOfReference(ctx, "bk-b-1")
		if err != nil || id != b.ID {
			t.Fatalf("tenant of B's reference without a tenant: %q (err %v), want %s", id, err, b.ID)
		}
	})

	t.Run("platformPathWrites", func(t *testing.T) {
		sub, fee := "ACCT_platform1", 250
		got, err := tenants.UpdateTenant(ctx, a.ID, ticketing.TenantUpdate{PaystackSubaccount: &sub, PlatformFeeBps: &fee})
		if err != nil || got.PaystackSubaccount != sub || got.PlatformFeeBps != fee {
			t.Fatalf("platform update: %+v (err %v)", got, err)
		}
		if got, err = tenants.AddTenantDomain(ctx, a.ID, "tickets.a.test"); err != nil || len(got.Domains) != 1 {
			t.Fatalf("platform add domain: %+v (err %v)", got, err)
		}
		if _, err = tenants.AddTenantDomain(ctx, a.ID, "tickets.b.test"); ticketing.ErrorKind(err) != ticketing.KindConflict {
			t.Fatalf("platform add a domain in use: %v, want a conflict", err)
		}
		if got, err = tenants.RemoveTenantDomain(ctx, a.ID, "tickets.a.test"); err != nil || len(got.Domains) != 0 {
			t.Fatalf("platform remove domain: %+v (err %v)", got, err)
		}
		if _, err = tenants.RemoveTenantDomain(ctx, a.ID, "tickets.b.test"); ticketing.ErrorKind(err) != ticketing.KindNotFound {
			t.Fatalf("platform remove another tenant's domain through A: %v, want not found", err)
		}
		if _, err = tenants.UpdateTenant(ctx, ticketing.NewID(), ticketing.TenantUpdate{PaystackSubaccount: &sub}); ticketing.ErrorKind(err) != ticketing.KindNotFound {
			t.Fatalf("platform update of an unknown tenant: %v, want not found", err)
		}
	})
}

// TestPlatformRoleEndsWithItsWrite checks that the switch to the platform
// role never outlives the platform's transaction, whether it commits or
// fails: the next statement on the same pooled connection runs as the
// application role again. (Within the transaction the audit row is
// written after switching back: the platform role has no grant on
// audit_log, so the platform tests would fail otherwise.)
func TestPlatformRoleEndsWithItsWrite(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	one, err := postgres.Open(ctx, db.AppURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	tenants := postgres.NewTenantService(one, testHasher)
	a, _, err := tenants.CreateTenant(ctx, ticketing.NewTenant{
		Slug: "tenant-a", Name: "A", Currency: "NGN",
		Admin: ticketing.NewUser{Email: "admin@a.test", Password: "admin-password", Name: "Admin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	assertAppRole := func(after string) {
		t.Helper()
		var user string
		if err := one.Pool.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != pgtest.AppRole {
			t.Fatalf("after %s the connection runs as %q (err %v), want %s", after, user, err, pgtest.AppRole)
		}
	}
	assertAppRole("creating a tenant")
	if _, err := tenants.AddTenantDomain(ctx, a.ID, "a.test"); err != nil {
		t.Fatal(err)
	}
	assertAppRole("adding a domain")
	if _, err := tenants.AddTenantDomain(ctx, ticketing.NewID(), "b.test"); ticketing.ErrorKind(err) != ticketing.KindNotFound {
		t.Fatalf("add a domain to an unknown tenant: %v, want not found", err)
	}
	assertAppRole("a failed platform write")
}
