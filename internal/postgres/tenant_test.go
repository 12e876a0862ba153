package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestTenantBranding: a new tenant has the default colour and no logo, the
// platform sets both, and an organizer's settings change writes its own
// row only, as the organizer's actor, and is what every read then returns.
func TestTenantBranding(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	tenants := postgres.NewTenantService(db.App, testHasher)
	a, admin, err := tenants.CreateTenant(ctx, ticketing.NewTenant{
		Slug: "tenant-a", Name: "A", Currency: "NGN", LogoURL: "https://cdn.a.test/logo.png",
		Admin: ticketing.NewUser{Email: "admin@a.test", Password: "admin-password", Name: "Admin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.LogoURL != "https://cdn.a.test/logo.png" || a.AccentColor != ticketing.DefaultAccentColor {
		t.Fatalf("created %+v, want the logo and the default colour", a)
	}
	b := mustTenant(t, db, "tenant-b")

	color := "#00AA11"
	if got, err := tenants.UpdateTenant(ctx, b.ID, ticketing.TenantUpdate{AccentColor: &color}); err != nil || got.AccentColor != "#00aa11" {
		t.Fatalf("platform sets B's colour: %+v (err %v)", got, err)
	}

	actx := ticketing.WithActor(ticketing.WithTenant(ctx, a), ticketing.Actor{UserID: admin.ID, Role: string(ticketing.RoleAdmin)})
	name, logo, accent := "A Live", "", "#FF0000"
	got, err := tenants.UpdateTenantSettings(actx, ticketing.TenantSettingsUpdate{Name: &name, LogoURL: &logo, AccentColor: &accent})
	if err != nil || got.ID != a.ID || got.Name != "A Live" || got.LogoURL != "" || got.AccentColor != "#ff0000" || got.Currency != "NGN" {
		t.Fatalf("A's settings: %+v (err %v)", got, err)
	}
	resolved, err := tenants.ResolveTenant(ctx, "", "tenant-a")
	if err != nil || resolved.Name != "A Live" || resolved.LogoURL != "" || resolved.AccentColor != "#ff0000" {
		t.Fatalf("resolve A: %+v (err %v)", resolved, err)
	}
	if got, err := tenants.FindTenantByID(ctx, b.ID); err != nil || got.Name != "tenant-b" || got.AccentColor != "#00aa11" {
		t.Fatalf("B after A's change: %+v (err %v), want it unchanged", got, err)
	}
	list, _, err := tenants.FindTenants(ctx, ticketing.TenantFilter{})
	if err != nil || len(list) != 2 || list[0].AccentColor != "#ff0000" || list[1].AccentColor != "#00aa11" {
		t.Fatalf("list: %v (err %v)", list, err)
	}

	var actor, role string
	err = db.Admin.QueryRow(ctx, `SELECT actor_id::text, actor_role FROM audit_log
		WHERE tenant_id = $1 AND action = 'tenant.settings.update'`, a.ID).Scan(&actor, &role)
	if err != nil || actor != admin.ID || role != "ADMIN" {
		t.Fatalf("audit of the settings change: actor %q role %q (err %v), want the admin", actor, role, err)
	}

	bad := "javascript:alert(1)"
	if _, err := tenants.UpdateTenantSettings(actx, ticketing.TenantSettingsUpdate{LogoURL: &bad}); ticketing.ErrorKind(err) != ticketing.KindInvalid {
		t.Fatalf("bad logo: %v, want KindInvalid", err)
	}
	if _, err := tenants.UpdateTenantSettings(ctx, ticketing.TenantSettingsUpdate{Name: &name}); ticketing.ErrorKind(err) != ticketing.KindInternal {
		t.Fatalf("settings without a tenant: %v, want an internal error", err)
	}
}

// TestTenantBrandingChecks: the table refuses what validation refuses, as a
// last line behind it.
func TestTenantBrandingChecks(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	a := mustTenant(t, db, "tenant-a")
	for name, set := range map[string]string{
		"colourUppercase": "accent_color = '#FFFFFF'",
		"colourShort":     "accent_color = '#fff'",
		"colourEmpty":     "accent_color = ''",
		"logoJavascript":  "logo_url = 'javascript:alert(1)'",
		"logoRelative":    "logo_url = '/logo.png'",
		"logoTooLong":     "logo_url = 'https://x.test/" + strings.Repeat("a", 2048) + "'",
		"logoNewline":     "logo_url = E'https://x.test/a\\nb'",
	} {
		t.Run(name+"Refused", func(t *testing.T) {
			_, err := db.Admin.Exec(ctx, "UPDATE tenants SET "+set+" WHERE id = $1", a.ID)
			if err == nil || !strings.Contains(err.Error(), "23514") {
				t.Fatalf("got %v, want a check violation", err)
			}
		})
	}
}
