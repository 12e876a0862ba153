package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestRevocationNeverMissesAConcurrentRefresh races a refresh against
// "end every session" many times: whichever commits first, no refresh token
// may work afterwards.
func TestRevocationNeverMissesAConcurrentRefresh(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := mustTenant(t, db, "acme")
	ctx := ticketing.WithTenant(context.Background(), tenant)
	sessions := postgres.NewSessionService(db.App, testHasher, time.Hour)
	user, _, err := sessions.SignUp(ctx, ticketing.NewUser{Email: "buyer@acme.test", Password: "password-1", Name: "B"})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 25 {
		sess, err := sessions.StartSession(ctx, user.ID)
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg        sync.WaitGroup
			refreshed ticketing.Session
		)
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, refreshed, _ = sessions.RefreshSession(ctx, sess.RefreshToken)
		}()
		go func() {
			defer wg.Done()
			<-start
			if _, err := sessions.RevokeUserSessions(ctx, user.ID, ""); err != nil {
				t.Error(err)
			}
		}()
		close(start)
		wg.Wait()
		if refreshed.RefreshToken == "" {
			continue // the revocation came first
		}
		if _, _, err := sessions.RefreshSession(ctx, refreshed.RefreshToken); ticketing.ErrorKind(err) != ticketing.KindUnauthorized {
			t.Fatalf("round %d: a token issued while the sessions were revoked still works (%v)", round, err)
		}
	}
}

// TestSignUpIsAllOrNothing: a signup whose email is taken writes neither an
// account nor a session.
func TestSignUpIsAllOrNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := mustTenant(t, db, "acme")
	ctx := ticketing.WithTenant(context.Background(), tenant)
	sessions := postgres.NewSessionService(db.App, testHasher, time.Hour)
	if _, _, err := sessions.SignUp(ctx, ticketing.NewUser{Email: "admin@acme.test", Password: "password-1", Name: "Dup"}); ticketing.ErrorKind(err) != ticketing.KindConflict {
		t.Fatalf("duplicate signup: %v", err)
	}
	var users, tokens int
	if err := db.Admin.QueryRow(ctx, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM refresh_tokens)").Scan(&users, &tokens); err != nil || users != 1 || tokens != 0 {
		t.Fatalf("%d users and %d tokens after a failed signup (%v); want the admin alone", users, tokens, err)
	}
}
