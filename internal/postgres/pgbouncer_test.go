package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestTransactionPoolingKeepsTenantsApart runs the service's transactions
// through a PgBouncer in transaction pooling mode with two server
// connections, from 16 client connections: the transactions of two tenants,
// of the platform (which switches role for its writes) and of no tenant at
// all take turns on the same server connections. Each sees only its own
// rows as the application role, and what one transaction set is gone for
// the next, until some server connection has served both tenants.
func TestTransactionPoolingKeepsTenantsApart(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	a, b := rlsProbe(t, db)
	through := db.Bouncer(t, 2).Open(t, 16)
	ctx := context.Background()
	tenants := postgres.NewTenantService(through, testHasher)

	var (
		mu       sync.Mutex
		servedBy = map[int32]map[string]bool{} // server backend pid → tenants it served
	)
	tenantTx := func(tn *ticketing.Tenant) error {
		return through.WithTenant(ctx, tn.ID, func(tx pgx.Tx) error {
			var pid int32
			var user, note string
			var notes []string
			rows, err := tx.Query(ctx, "SELECT pg_backend_pid(), current_user, note FROM rls_probe ORDER BY id")
			if err != nil {
				return err
			}
			if _, err := pgx.ForEachRow(rows, []any{&pid, &user, &note}, func() error {
				notes = append(notes, note)
				return nil
			}); err != nil {
				return err
			}
			for _, n := range notes {
				if n != tn.Slug {
					return fmt.Errorf("tenant %s sees the row %q", tn.Slug, n)
				}
			}
			if len(notes) == 0 || user != pgtest.AppRole {
				return fmt.Errorf("tenant %s sees %d rows as %q", tn.Slug, len(notes), user)
			}
			// A row written here is seen by the same tenant only (checked by
			// the reads of later rounds).
			if _, err := tx.Exec(ctx, "INSERT INTO rls_probe (tenant_id, note) VALUES ($1, $2)", tn.ID, tn.Slug); err != nil {
				return err
			}
			mu.Lock()
			if servedBy[pid] == nil {
				servedBy[pid] = map[string]bool{}
			}
			servedBy[pid][tn.Slug] = true
			mu.Unlock()
			return nil
		})
	}
	// noTenant is a transaction that sets nothing: whatever transaction the
	// server connection served before, it sees no tenant, no rows, and the
	// role that logged in.
	noTenant := func() error {
		var setting, user string
		var n int
		err := through.Pool.QueryRow(ctx, "SELECT coalesce(current_setting('app.tenant_id', true), ''), current_user, (SELECT count(*) FROM rls_probe)").
			Scan(&setting, &user, &n)
		if err == nil && (setting != "" || n != 0 || user != pgtest.AppRole) {
			err = fmt.Errorf("without a tenant: setting %q, %d rows, role %q", setting, n, user)
		}
		return err
	}
	shared := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, served := range servedBy {
			if served[a.Slug] && served[b.Slug] {
				return true
			}
		}
		return false
	}

	for round := 0; round < 3 || !shared(); round++ {
		if round == 50 {
			t.Fatalf("no server connection served both tenants in 50 rounds: %v", servedBy)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := range 8 {
			wg.Go(func() { errs <- tenantTx(a) })
			wg.Go(func() { errs <- tenantTx(b) })
			wg.Go(func() { errs <- noTenant() })
			if i == 0 {
				// The platform's transaction switches to ticketing_platform for
				// its write and back: the role must not outlive it.
				wg.Go(func() {
					_, _, err := tenants.CreateTenant(ctx, ticketing.NewTenant{Slug: fmt.Sprintf("other-%d", round), Name: "Other", Currency: "NGN",
						Admin: ticketing.NewUser{Email: fmt.Sprintf("admin@other-%d.test", round), Password: "admin-password", Name: "Admin"}})
					errs <- err
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(servedBy) > 2 {
		t.Fatalf("%d server connections served the transactions, want at most PgBouncer's 2", len(servedBy))
	}
}

// TestGroupCommitThroughTransactionPooling writes the bookings of two
// tenants through the group commit behind PgBouncer in transaction pooling
// mode: each batch is one implicit transaction that scopes each tenant's
// statement in turn, so every booking is written, in its own tenant.
func TestGroupCommitThroughTransactionPooling(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	through := db.Bouncer(t, 2).Open(t, 8)
	store := postgres.NewBookingStore(through)
	type buyer struct {
		ctx  context.Context
		sale gaSale
		id   string
	}
	var buyers []buyer
	for _, slug := range []string{"acme", "globex"} {
		tn := mustTenant(t, db, slug)
		ctx := asAdmin(t, db, tn)
		buyers = append(buyers, buyer{ctx: ctx, sale: newGASale(t, db, ctx, 1000), id: tn.ID})
	}
	want := map[string]string{} // booking id → tenant id
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 64 {
		by := buyers[i%2]
		wg.Go(func() {
			bk := by.sale.booking()
			if err := store.InsertBooking(by.ctx, bk, ""); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			want[bk.ID] = by.id
			mu.Unlock()
		})
	}
	wg.Wait()
	rows, err := db.Admin.Query(context.Background(), "SELECT id::text, tenant_id::text FROM bookings")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var id, tenant string
	if _, err := pgx.ForEachRow(rows, []any{&id, &tenant}, func() error { got[id] = tenant; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 64 || len(want) != 64 {
		t.Fatalf("%d bookings written, %d answered, want 64", len(got), len(want))
	}
	for id, tn := range want {
		if got[id] != tn {
			t.Errorf("booking %s of tenant %s is in tenant %q", id, tn, got[id])
		}
	}
}

// TestPublicBrowsingReadsTheReadPool gives the service a read pool (a
// replica's, DATABASE_READ_URL) and counts the transactions it serves: a
// buyer's browsing of the catalog reads from it, in a read-only transaction
// under the tenant's row-level security; the organizer staff's reads and
// every write go to the primary, which alone has what was just written.
func TestPublicBrowsingReadsTheReadPool(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tn := mustTenant(t, db, "acme")
	staff := asAdmin(t, db, tn)
	sale := newGASale(t, db, staff, 10)
	newGASale(t, db, asAdmin(t, db, mustTenant(t, db, "globex")), 10)
	buyer := ticketing.WithTenant(context.Background(), tn)

	var reads atomic.Int64
	both := &postgres.DB{Pool: db.App.Pool}
	err := both.OpenRead(context.Background(), db.AppURL, 2, func(cfg *pgxpool.Config) {
		cfg.MinConns = 0
		cfg.PrepareConn = func(context.Context, *pgx.Conn) (bool, error) {
			reads.Add(1)
			return true, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(both.Read.Close)
	events := postgres.NewEventService(both)
	readsOf := func(fn func() error) (int64, error) {
		before := reads.Load()
		err := fn()
		return reads.Load() - before, err
	}

	for what, fn := range map[string]func() error{
		"list": func() error {
			got, _, err := events.FindEvents(buyer, ticketing.EventFilter{})
			if err == nil && (len(got) != 1 || got[0].ID != sale.eventID) {
				err = fmt.Errorf("%d events, want the tenant's one", len(got))
			}
			return err
		},
		"detail":       func() error { _, err := events.FindEventByID(buyer, sale.eventID, false); return err },
		"ticket types": func() error { _, err := events.FindTicketTypes(buyer, sale.eventID, false); return err },
	} {
		if n, err := readsOf(fn); err != nil || n != 1 {
			t.Errorf("the public %s: %d transactions on the read pool (err %v), want 1", what, n, err)
		}
	}
	title := "Renamed"
	for what, fn := range map[string]func() error{
		"list":   func() error { _, _, err := events.FindEvents(staff, ticketing.EventFilter{Staff: true}); return err },
		"detail": func() error { _, err := events.FindEventByID(staff, sale.eventID, true); return err },
		"update": func() error {
			e, err := events.FindEventByID(staff, sale.eventID, true)
			if err == nil {
				_, err = events.UpdateEvent(staff, sale.eventID, ticketing.EventUpdate{Title: &title, Version: e.Version})
			}
			return err
		},
		"booking": func() error { return postgres.NewBookingStore(both).InsertBooking(staff, sale.booking(), "") },
	} {
		if n, err := readsOf(fn); err != nil || n != 0 {
			t.Errorf("the staff's %s: %d transactions on the read pool (err %v), want 0", what, n, err)
		}
	}

	err = both.ReadInTenant(buyer, func(tx pgx.Tx) error {
		_, err := tx.Exec(buyer, "UPDATE events SET title = 'x'")
		return err
	})
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "25006" { // read_only_sql_transaction
		t.Fatalf("a write in the read pool's transaction: %v, want it refused as read-only", err)
	}
	// An error of the read's own statements is the read's: it is not run
	// again on the primary, and the replica still serves.
	if n := both.ReadFallbacks(); n != 0 || !both.ReadReplicaUp() {
		t.Fatalf("after the replica refused a write: %d reads on the primary, replica up %v; want 0 and up", n, both.ReadReplicaUp())
	}
}

// TestReadInTenantFallsBackToThePrimary gives ReadInTenant a replica
// through a PgBouncer, then stops it: each read runs once, on the primary,
// while the replica does not answer, and back on the replica once it
// answers again. The transactions of each pool are counted by the
// connections it hands out.
func TestReadInTenantFallsBackToThePrimary(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tn := mustTenant(t, db, "acme")
	sale := newGASale(t, db, asAdmin(t, db, tn), 10)
	buyer := ticketing.WithTenant(context.Background(), tn)
	replica := db.Bouncer(t, 2)

	var onReplica, onPrimary atomic.Int64
	counting := func(n *atomic.Int64) postgres.Option {
		return func(cfg *pgxpool.Config) {
			cfg.MinConns = 0
			cfg.PrepareConn = func(context.Context, *pgx.Conn) (bool, error) {
				n.Add(1)
				return true, nil
			}
		}
	}
	primary, err := postgres.Open(context.Background(), db.AppURL, 4, counting(&onPrimary))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(primary.Close)
	if err := primary.OpenRead(context.Background(), replica.AppURL, 4, postgres.TransactionPooling(), counting(&onReplica)); err != nil {
		t.Fatal(err)
	}
	// read browses the event and returns how many transactions each pool
	// served for it.
	read := func(what string) (replicaTx, primaryTx int64) {
		t.Helper()
		r, p := onReplica.Load(), onPrimary.Load()
		runs := 0
		err := primary.ReadInTenant(buyer, func(tx pgx.Tx) error {
			runs++
			var title string
			return tx.QueryRow(buyer, "SELECT title FROM events WHERE id = $1", sale.eventID).Scan(&title)
		})
		if err != nil || runs != 1 {
			t.Fatalf("%s: %v after %d runs, want the read once", what, err, runs)
		}
		return onReplica.Load() - r, onPrimary.Load() - p
	}

	if r, p := read("replica up"); r != 1 || p != 0 {
		t.Fatalf("replica up: %d transactions on the replica, %d on the primary; want 1, 0", r, p)
	}
	if err := primary.PingRead(buyer); err != nil || !primary.ReadReplicaUp() {
		t.Fatalf("replica up: PingRead %v, up %v", err, primary.ReadReplicaUp())
	}

	// The replica's pool may still hand out a connection whose server is
	// gone (counted there), on which the begin fails.
	replica.Stop()
	for _, what := range []string{"replica down", "replica down, backing off"} {
		if _, p := read(what); p != 1 {
			t.Fatalf("%s: %d transactions on the primary, want 1", what, p)
		}
	}
	if n := primary.ReadFallbacks(); n != 2 {
		t.Fatalf("%d fallbacks counted, want 2", n)
	}
	if err := primary.PingRead(buyer); err == nil || primary.ReadReplicaUp() {
		t.Fatalf("replica down: PingRead %v, up %v; want an error, down", err, primary.ReadReplicaUp())
	}
	// A query's error on the primary is the read's, as on the replica.
	err = primary.ReadInTenant(buyer, func(tx pgx.Tx) error {
		_, err := tx.Exec(buyer, "UPDATE events SET title = 'x'")
		return err
	})
	if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("a write in the primary's read-only transaction: %v, want it refused", err)
	}

	replica.Restart(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, p := read("replica back"); p == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reads did not return to the replica within 30s of its restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !primary.ReadReplicaUp() {
		t.Fatal("a read served by the replica did not mark it up")
	}
	if r, p := read("replica back, again"); r != 1 || p != 0 {
		t.Fatalf("replica back: %d transactions on the replica, %d on the primary; want 1, 0", r, p)
	}
}

// TestOpenReadStartsWithoutTheReplica: a replica that does not answer
// (nothing listens at its address) does not stop OpenRead; the reads run on
// the primary, each attempt bounded, and PingRead says why.
func TestOpenReadStartsWithoutTheReplica(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tn := mustTenant(t, db, "acme")
	sale := newGASale(t, db, asAdmin(t, db, tn), 10)
	buyer := ticketing.WithTenant(context.Background(), tn)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	both := &postgres.DB{Pool: db.App.Pool}
	if err := both.OpenRead(context.Background(), "postgres://ticketing_app@"+closed+"/x?sslmode=disable", 2); err != nil {
		t.Fatalf("OpenRead of a replica that does not answer: %v", err)
	}
	t.Cleanup(both.Read.Close)
	if err := both.PingRead(buyer); err == nil || both.ReadReplicaUp() {
		t.Fatalf("PingRead %v, up %v; want an error, down", err, both.ReadReplicaUp())
	}
	if _, err := postgres.NewEventService(both).FindEventByID(buyer, sale.eventID, false); err != nil {
		t.Fatalf("the public detail without the replica: %v", err)
	}
	if n := both.ReadFallbacks(); n != 1 {
		t.Fatalf("%d fallbacks, want 1", n)
	}
}
