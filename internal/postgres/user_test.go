package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestConcurrentDemotionsKeepOneAdmin demotes every admin of a tenant at
// once, each from its own transaction: however they interleave, exactly one
// admin must remain and every other demotion must succeed.
func TestConcurrentDemotionsKeepOneAdmin(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := mustTenant(t, db, "acme")
	users := postgres.NewUserService(db.App, testHasher)
	ctx := ticketing.WithTenant(context.Background(), tenant)

	const n = 8
	var ids []string
	for i := range n - 1 {
		u, err := users.CreateUser(ctx, ticketing.NewUser{Email: fmt.Sprintf("admin%d@acme.test", i), Password: "password-1", Name: "A", Role: ticketing.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	first, _, err := users.FindUsers(ctx, ticketing.UserFilter{Email: "admin@acme.test"})
	if err != nil || len(first) != 1 {
		t.Fatalf("the tenant's first admin: %v %v", first, err)
	}
	ids = append(ids, first[0].ID)

	role := ticketing.RoleUser
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			actx := ticketing.WithActor(ctx, ticketing.Actor{UserID: ids[(i+1)%n], Role: string(ticketing.RoleAdmin)})
			_, _, errs[i] = users.UpdateUser(actx, id, ticketing.UserUpdate{Role: &role, Version: 1})
		}()
	}
	close(start)
	wg.Wait()

	refused := 0
	for _, err := range errs {
		if e := ticketing.AsError(err); e != nil && e.Code == ticketing.CodeLastAdmin {
			refused++
		} else if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	admins, _, err := users.FindUsers(ctx, ticketing.UserFilter{Role: &[]ticketing.Role{ticketing.RoleAdmin}[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(admins) != 1 || refused != 1 {
		t.Fatalf("%d admins left and %d demotions refused; want exactly 1 and 1", len(admins), refused)
	}
}
