package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/booking"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/worker"
)

type noScheduler struct{}

func (noScheduler) ScheduleExpiry(context.Context, string, time.Time) error { return nil }

// TestWorkerExpiresBookings runs a real asynq worker: the expiry task of a
// booking's slot ends it when its hold runs out, and the periodic sweep ends
// one whose task was lost; both return the tickets.
func TestWorkerExpiresBookings(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rdb := redistest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hasher := auth.Hasher{Memory: 1024, Iterations: 1, Parallelism: 1}
	tenants := postgres.NewTenantService(db.App, hasher)
	store := postgres.NewBookingStore(db.App)
	stock := inventory.New(rdb.UniversalClient, rdb.Prefix, store)
	bookings := booking.New(store, stock, noScheduler{}, logger, 0)

	tenant, admin, err := tenants.CreateTenant(t.Context(), ticketing.NewTenant{Slug: "acme", Name: "Acme", Currency: "NGN",
		Admin: ticketing.NewUser{Email: "admin@acme.test", Password: "password-1", Name: "A"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ticketing.WithActor(ticketing.WithTenant(t.Context(), tenant), ticketing.Actor{UserID: admin.ID, Role: string(admin.Role)})
	capacity := 10
	venue, err := postgres.NewVenueService(db.App).CreateVenue(ctx, ticketing.NewVenue{Name: "Hall", Timezone: "Africa/Lagos", Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	events := postgres.NewEventService(db.App)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Show", StartsAt: start, EndsAt: start.Add(time.Hour), SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		t.Fatal(err)
	}
	price := int64(100)
	tt, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &price, Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	book := func() *ticketing.Booking {
		b, err := bookings.CreateBooking(ctx, ticketing.NewBooking{EventID: e.ID, Items: []ticketing.ItemRequest{{TicketTypeID: tt.ID, Quantity: 2}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	byTask, bySweep := book(), book()

	queue := "test-" + rdb.Prefix[len("test:"):len(rdb.Prefix)-1]
	redistest.CleanupAsynqQueue(t, rdb, queue)
	inspector := asynq.NewInspectorFromRedisClient(rdb.UniversalClient)
	client := worker.NewClient(rdb.UniversalClient, queue)

	// Another process scheduling the same slot enqueues nothing new. The
	// slot is an hour away, so no worker takes its task while it is counted.
	inAnHour := time.Now().Add(time.Hour)
	if err := client.ScheduleExpiry(ctx, tenant.ID, inAnHour); err != nil {
		t.Fatal(err)
	}
	if err := worker.NewClient(rdb.UniversalClient, queue).ScheduleExpiry(ctx, tenant.ID, inAnHour); err != nil {
		t.Fatalf("scheduling the same slot again must be harmless: %v", err)
	}
	if n := tasksOf(t, rdb.UniversalClient, queue, worker.TypeExpireBookings); n != 1 {
		t.Fatalf("%d expiry tasks queued, want 1 for the slot", n)
	}

	// The second booking's hold ran out already and it has no task: the
	// sweep at the worker's start finds it.
	if _, err := db.Admin.Exec(t.Context(), "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1", bySweep.ID); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The sweep runs when the worker starts, then not for an hour.
		done <- worker.Run(runCtx, rdb.UniversalClient, worker.Config{Queue: queue, Concurrency: 2, SweepInterval: time.Hour},
			&worker.Handlers{Bookings: bookings, Tenants: tenants, Logger: logger}, client)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	status := func(id string) string {
		t.Helper()
		var s string
		if err := db.Admin.QueryRow(t.Context(), "SELECT status FROM bookings WHERE id = $1", id).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitFor(t, func() (bool, string) {
		completed, err := inspector.ListCompletedTasks(queue)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range completed {
			if task.Type == worker.TypeSweepBookings {
				return true, ""
			}
		}
		return false, "the sweep at the worker's start has not completed"
	})
	if got := status(bySweep.ID); got != "expired" {
		t.Fatalf("the sweep left the booking whose hold ran out %s", got)
	}
	if got := status(byTask.ID); got != "pending" {
		t.Fatalf("the sweep made the booking still held %s", got)
	}

	// The first booking's hold runs out in three seconds, and its slot's
	// task is due then. The sweep is done, so only that task can expire it.
	var due time.Time
	if err := db.Admin.QueryRow(t.Context(), "UPDATE bookings SET expires_at = now() + interval '3 seconds' WHERE id = $1 RETURNING expires_at", byTask.ID).Scan(&due); err != nil {
		t.Fatal(err)
	}
	if err := client.ScheduleExpiry(ctx, tenant.ID, due); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() (bool, string) {
		st := status(byTask.ID)
		stockNow, err := stock.Availability(ctx, inventory.Event{TenantID: tenant.ID, EventID: e.ID})
		if err != nil {
			t.Fatal(err)
		}
		return st == "expired" && stockNow[tt.ID].Available == capacity && stockNow[tt.ID].Held == 0,
			fmt.Sprintf("the booking due at %s is %s, stock %+v", due, st, stockNow[tt.ID])
	})
	if time.Now().Before(due) {
		t.Fatalf("the booking due at %s expired early", due)
	}
}

// waitFor polls ok until it is done, for as long as a busy machine may
// need, and fails with the state ok last described when it never is.
func waitFor(t *testing.T, ok func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done, state := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %s", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tasksOf counts the scheduled tasks of a type in a queue.
func tasksOf(t *testing.T, rdb redis.UniversalClient, queue, taskType string) int {
	t.Helper()
	tasks, err := asynq.NewInspectorFromRedisClient(rdb).ListScheduledTasks(queue)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		if task.Type == taskType {
			n++
		}
	}
	return n
}

// TestEnqueueRefundRunsAWaitingTaskNow: a refund queued again (an admin
// retried it) is sent at once, not when the backoff of its task, waiting to
// ask Paystack about the last attempt, runs out; one task per refund still.
func TestEnqueueRefundRunsAWaitingTaskNow(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	queue := "test-" + rdb.Prefix[len("test:"):len(rdb.Prefix)-1]
	redistest.CleanupAsynqQueue(t, rdb, queue)
	tenantID, refundID := ticketing.NewID(), ticketing.NewID()
	// The refund's task, waiting an hour for its next run.
	_, err := asynq.NewClientFromRedisClient(rdb.UniversalClient).Enqueue(asynq.NewTask(worker.TypeRefundPayment, []byte(`{}`)),
		asynq.Queue(queue), asynq.TaskID("payment-refund:"+refundID), asynq.ProcessIn(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.NewClient(rdb.UniversalClient, queue).EnqueueRefund(t.Context(), tenantID, refundID); err != nil {
		t.Fatal(err)
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb.UniversalClient).GetTaskInfo(queue, "payment-refund:"+refundID)
	if err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("the refund's task after enqueueing it again: %+v %v, want it pending", info, err)
	}
	if n := tasksOf(t, rdb.UniversalClient, queue, worker.TypeRefundPayment); n != 0 {
		t.Fatalf("%d refund tasks still scheduled", n)
	}
}
