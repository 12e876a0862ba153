package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

func TestCheckRuntimeRole(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	// tempRole creates a login role that exists only for this test.
	tempRole := func(t *testing.T, attrs string, grants ...string) string {
		name := "ticketd_role_" + strings.ReplaceAll(ticketing.NewID()[:8], "-", "")
		stmts := []string{fmt.Sprintf("CREATE ROLE %s LOGIN %s", name, attrs)}
		for _, g := range grants {
			stmts = append(stmts, fmt.Sprintf("GRANT %s TO %s", g, name))
		}
		for _, s := range stmts {
			if _, err := db.Admin.Exec(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			_, _ = db.Admin.Exec(context.Background(), "DROP OWNED BY "+name)
			_, _ = db.Admin.Exec(context.Background(), "DROP ROLE "+name)
		})
		return name
	}
	urlAs := func(role string) string {
		u, _ := url.Parse(db.AppURL)
		u.User = url.User(role)
		return u.String()
	}

	cases := []struct {
		name string
		url  string
		want string // "" means accepted
	}{
		{"appRoleAccepted", db.AppURL, ""},
		{"superuserRefused", db.AdminURL, "superuser"},
		{"bypassRLSRefused", urlAs(tempRole(t, "BYPASSRLS", "ticketing_app")), "BYPASSRLS"},
		{"ownerMemberRefused", urlAs(tempRole(t, "", "ticketing_owner")), "owner"},
		{"appMemberAccepted", urlAs(tempRole(t, "", "ticketing_app")), ""},
		{"platformPrivilegesRefused", urlAs(tempRole(t, "", "ticketing_app", postgres.PlatformRole)), "tenants"},
		{"platformMemberNoInheritAccepted", urlAs(tempRole(t, "NOINHERIT", postgres.PlatformRole)), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := postgres.Open(ctx, c.url, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			err = conn.CheckRuntimeRole(ctx)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (!errors.Is(err, postgres.ErrUnsafeRole) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want ErrUnsafeRole mentioning %q", err, c.want)
			}
		})
	}
}

// TestQueriesPrepare parses and plans every statement of queries/*.sql as the
// application role against the migrated schema, so a typo or a missing grant
// fails here rather than on a request.
func TestQueriesPrepare(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	conn, err := db.App.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for name, sql := range postgres.Queries() {
		if _, err := conn.Conn().Prepare(ctx, "", sql); err != nil {
			t.Errorf("query %s: %v", name, err)
		}
	}
}
