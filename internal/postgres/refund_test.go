package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// paidBooking books one ticket of sale as the context's actor and settles a
// successful charge of its price: a confirmed booking and the reference of
// the payment that confirmed it.
func paidBooking(t *testing.T, db *pgtest.DB, ctx context.Context, sale gaSale) (string, string) {
	t.Helper()
	a, _ := ticketing.ActorFromContext(ctx)
	b := sale.booking()
	b.UserID = a.UserID
	if err := postgres.NewBookingStore(db.App).InsertBooking(ctx, b, ""); err != nil {
		t.Fatal(err)
	}
	payments := postgres.NewPaymentStore(db.App)
	opened, err := payments.OpenPayment(ctx, b.ID, "", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ref := opened.Payment.Reference
	st, err := payments.Settle(ctx, ref, ticketing.Charge{Reference: ref, Status: "success", PaystackID: 42, Amount: sale.price, Currency: "NGN"},
		ticketing.SettleNormal, "")
	if err != nil || !st.Confirmed {
		t.Fatalf("settle: %+v %v", st, err)
	}
	return b.ID, ref
}

func amount(n int64) *int64 { return &n }

// raceRefunds runs n refund requests at once, made to overlap: inserting
// refunds is blocked (a lock on the table) until all n are waiting in
// Postgres, so every request has read what it reads before any inserts.
func raceRefunds(t *testing.T, db *pgtest.DB, n int, request func(i int)) {
	t.Helper()
	ctx := t.Context()
	tx, err := db.Admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // when the test fails before the release
	if _, err := tx.Exec(ctx, "LOCK TABLE refunds IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { request(i) })
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		err := db.Admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND usename = 'ticketing_app' AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s, %d of %d requests wait in Postgres", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func errCode(err error) string {
	if e := ticketing.AsError(err); e != nil {
		return e.Code
	}
	return ""
}

// TestRefundsNeverExceedWhatWasPaid: however many refund requests race,
// the refunds of a payment that did not fail add up to at most what it
// paid; a failed refund gives its amount back, and retrying it takes it
// again only if it still fits.
func TestRefundsNeverExceedWhatWasPaid(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := asAdmin(t, db, mustTenant(t, db, "acme"))
	sale := newGASale(t, db, ctx, 10) // a price of 100
	bookingID, _ := paidBooking(t, db, ctx, sale)
	store := postgres.NewPaymentStore(db.App)

	const racers = 8
	results := make([]*ticketing.RefundRequest, racers)
	errs := make([]error, racers)
	raceRefunds(t, db, racers, func(i int) {
		results[i], errs[i] = store.RequestRefund(ctx, ticketing.NewRefund{BookingID: bookingID, Amount: amount(60), Reason: "race"}, "")
	})
	var first *ticketing.Refund
	for i, err := range errs {
		switch {
		case err == nil && first == nil:
			first = results[i].Refund
			if !results[i].Created || results[i].FullyRefunded || first.Status != ticketing.RefundQueued || first.Kind != ticketing.RefundAdmin {
				t.Fatalf("accepted refund: %+v %+v", results[i], first)
			}
		case err == nil:
			t.Fatalf("two refunds of 60 out of 100 were accepted")
		case errCode(err) != ticketing.CodeRefundExceedsPaid:
			t.Fatalf("racer %d: %v, want %s", i, err, ticketing.CodeRefundExceedsPaid)
		}
	}
	if first == nil {
		t.Fatal("no refund was accepted")
	}

	rest, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: bookingID, Reason: "the rest"}, "")
	if err != nil || rest.Refund.Amount != 40 || !rest.FullyRefunded {
		t.Fatalf("refunding what is left: %+v %v", rest, err)
	}
	if _, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: bookingID, Amount: amount(1), Reason: "more"}, ""); errCode(err) != ticketing.CodeRefundExceedsPaid {
		t.Fatalf("refunding past what was paid: %v", err)
	}
	if _, err := store.RetryRefund(ctx, first.ID); errCode(err) != ticketing.CodeInvalidState {
		t.Fatalf("retrying a queued refund: %v", err)
	}

	// Paystack fails the first: its 60 can be refunded again, once.
	if changed, _, err := store.UpdateRefund(ctx, first.ID, 1, ticketing.RefundFailed, 0, "Paystack said no"); err != nil || !changed {
		t.Fatalf("failing the refund: %v %v", changed, err)
	}
	other, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: bookingID, Amount: amount(10), Reason: "a gesture"}, "")
	if err != nil || other.FullyRefunded {
		t.Fatalf("refunding part of what the failed refund gave back: %+v %v", other, err)
	}
	if _, err := store.RetryRefund(ctx, first.ID); errCode(err) != ticketing.CodeRefundExceedsPaid {
		t.Fatalf("retrying a refund that no longer fits: %v", err)
	}
	if changed, _, err := store.UpdateRefund(ctx, other.Refund.ID, 1, ticketing.RefundFailed, 0, "no"); err != nil || !changed {
		t.Fatalf("failing the other refund: %v %v", changed, err)
	}
	retried, err := store.RetryRefund(ctx, first.ID)
	if err != nil || !retried.FullyRefunded || retried.Refund.Status != ticketing.RefundQueued || retried.Refund.Attempts != 2 ||
		retried.Refund.LastError != "" || retried.Refund.PaystackID != 0 {
		t.Fatalf("retrying the failed refund: %+v %v", retried, err)
	}
	var total int64
	if err := db.Admin.QueryRow(t.Context(), "SELECT sum(amount) FROM refunds WHERE booking_id = $1 AND status <> 'failed'", bookingID).Scan(&total); err != nil || total != 100 {
		t.Fatalf("refunds not failed add up to %d (%v), want 100", total, err)
	}
	var audits int
	if err := db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM audit_log WHERE action IN ('refund.request', 'refund.retry')").Scan(&audits); err != nil || audits != 4 {
		t.Fatalf("%d refund audit rows (%v), want 3 requests and a retry", audits, err)
	}
}

// TestRefundOnlyOfAConfirmedBookingOfTheTenant: a pending booking is not
// refunded, and another organizer's booking is not found.
func TestRefundOnlyOfAConfirmedBookingOfTheTenant(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := asAdmin(t, db, mustTenant(t, db, "acme"))
	other := asAdmin(t, db, mustTenant(t, db, "other"))
	sale := newGASale(t, db, ctx, 10)
	paid, _ := paidBooking(t, db, ctx, sale)
	pending := sale.booking()
	a, _ := ticketing.ActorFromContext(ctx)
	pending.UserID = a.UserID
	if err := postgres.NewBookingStore(db.App).InsertBooking(ctx, pending, ""); err != nil {
		t.Fatal(err)
	}
	store := postgres.NewPaymentStore(db.App)
	if _, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: pending.ID, Reason: "x"}, ""); errCode(err) != ticketing.CodeInvalidState {
		t.Fatalf("refunding a pending booking: %v", err)
	}
	if _, err := store.RequestRefund(other, ticketing.NewRefund{BookingID: paid, Reason: "x"}, ""); ticketing.ErrorKind(err) != ticketing.KindNotFound {
		t.Fatalf("refunding another organizer's booking: %v", err)
	}
	r, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: paid, Amount: amount(5), Reason: "x"}, a.UserID)
	if err != nil || r.Refund.RequestedBy != a.UserID {
		t.Fatalf("refund: %+v %v", r, err)
	}
	for name, try := range map[string]func() error{
		"retry": func() error { _, err := store.RetryRefund(other, r.Refund.ID); return err },
		"find":  func() error { _, err := store.FindRefund(other, r.Refund.ID); return err },
		"list": func() error {
			_, _, err := store.FindRefunds(other, ticketing.RefundFilter{BookingID: paid}, "")
			return err
		},
	} {
		if err := try(); ticketing.ErrorKind(err) != ticketing.KindNotFound {
			t.Errorf("%s as another organizer: %v", name, err)
		}
	}
	if list, _, err := store.FindRefunds(other, ticketing.RefundFilter{}, ""); err != nil || len(list) != 0 {
		t.Errorf("another organizer lists %d refunds (%v)", len(list), err)
	}
}

// TestRefundIdempotencyKey: the same key and request name one refund, also
// when sent at once; the key with another request is refused.
func TestRefundIdempotencyKey(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := asAdmin(t, db, mustTenant(t, db, "acme"))
	sale := newGASale(t, db, ctx, 10)
	bookingID, _ := paidBooking(t, db, ctx, sale)
	otherBooking, _ := paidBooking(t, db, ctx, sale)
	store := postgres.NewPaymentStore(db.App)
	n := ticketing.NewRefund{BookingID: bookingID, Amount: amount(30), Reason: "late show", IdempotencyKey: "key-1"}

	const racers = 8
	ids := make([]string, racers)
	created := make([]bool, racers)
	raceRefunds(t, db, racers, func(i int) {
		r, err := store.RequestRefund(ctx, n, "")
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
			return
		}
		ids[i], created[i] = r.Refund.ID, r.Created
	})
	made := 0
	for i := range racers {
		if ids[i] != ids[0] {
			t.Fatalf("one key made refunds %s and %s", ids[0], ids[i])
		}
		if created[i] {
			made++
		}
	}
	if made != 1 {
		t.Fatalf("%d requests say they made the refund, want 1", made)
	}
	for name, again := range map[string]ticketing.NewRefund{
		"otherAmount":  {BookingID: bookingID, Amount: amount(31), Reason: n.Reason, IdempotencyKey: "key-1"},
		"otherReason":  {BookingID: bookingID, Amount: n.Amount, Reason: "other", IdempotencyKey: "key-1"},
		"otherBooking": {BookingID: otherBooking, Amount: n.Amount, Reason: n.Reason, IdempotencyKey: "key-1"},
	} {
		if _, err := store.RequestRefund(ctx, again, ""); errCode(err) != ticketing.CodeIdempotencyKeyReused {
			t.Errorf("%s: %v, want %s", name, err, ticketing.CodeIdempotencyKeyReused)
		}
	}
	// Without the amount the same request is the same refund.
	if r, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: bookingID, Reason: n.Reason, IdempotencyKey: "key-1"}, ""); err != nil || r.Refund.ID != ids[0] || r.Created {
		t.Fatalf("the key without the amount: %+v %v", r, err)
	}
	var rows int
	if err := db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM refunds").Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("%d refunds (%v), want 1", rows, err)
	}
}

// TestRefundStatusMovesForwardOnly: what Paystack says of a refund is
// recorded only for the attempt and the Paystack refund it is about, and
// never moves a refund back.
func TestRefundStatusMovesForwardOnly(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := asAdmin(t, db, mustTenant(t, db, "acme"))
	sale := newGASale(t, db, ctx, 10)
	bookingID, _ := paidBooking(t, db, ctx, sale)
	store := postgres.NewPaymentStore(db.App)
	r, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: bookingID, Reason: "x"}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := r.Refund.ID
	for i, step := range []struct {
		attempt    int
		status     ticketing.RefundStatus
		paystackID uint64
		changes    bool
	}{
		{1, ticketing.RefundQueued, 0, true}, // an error recorded
		{1, ticketing.RefundPending, 7, true},
		{1, ticketing.RefundProcessing, 7, true},
		{1, ticketing.RefundPending, 7, false},   // an older answer
		{1, ticketing.RefundProcessed, 8, false}, // another Paystack refund
		{2, ticketing.RefundProcessed, 7, false}, // another attempt
		{1, ticketing.RefundProcessed, 7, true},
		{1, ticketing.RefundFailed, 7, false}, // final
	} {
		changed, kind, err := store.UpdateRefund(ctx, id, step.attempt, step.status, step.paystackID, "")
		if err != nil || changed != step.changes || (changed && kind != ticketing.RefundAdmin) {
			t.Fatalf("step %d %+v: changed %v kind %q %v", i, step, changed, kind, err)
		}
	}
	got, err := store.FindRefund(ctx, id)
	if err != nil || got.Status != ticketing.RefundProcessed || got.PaystackID != 7 {
		t.Fatalf("refund %+v %v", got, err)
	}
	if _, err := store.RetryRefund(ctx, id); errCode(err) != ticketing.CodeInvalidState {
		t.Fatalf("retrying a processed refund: %v", err)
	}
}

// TestAutomaticRefundStaysOnePerPayment: a charge is refunded
// automatically at most once, beside any admin refunds of it.
func TestAutomaticRefundStaysOnePerPayment(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := mustTenant(t, db, "acme")
	ctx := asAdmin(t, db, tenant)
	sale := newGASale(t, db, ctx, 10)
	bookingID, ref := paidBooking(t, db, ctx, sale)
	store := postgres.NewPaymentStore(db.App)
	if _, err := store.RequestRefund(ctx, ticketing.NewRefund{BookingID: bookingID, Amount: amount(10), Reason: "x"}, ""); err != nil {
		t.Fatal(err)
	}
	insert := postgres.Queries()["InsertRefund"]
	for i, want := range []int{1, 0} {
		var inserted int
		err := db.App.WithTenant(ctx, tenant.ID, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, insert, paymentID(t, db, ref), bookingID, sale.price, "NGN", ticketing.CodeAlreadyPaid)
			if err != nil {
				return err
			}
			for rows.Next() {
				inserted++
			}
			return rows.Err()
		})
		if err != nil || inserted != want {
			t.Fatalf("automatic refund %d: %d rows (%v), want %d", i, inserted, err, want)
		}
	}
	var kinds []string
	rows, err := db.Admin.Query(t.Context(), "SELECT kind FROM refunds ORDER BY kind")
	if err == nil {
		kinds, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(kinds) != 2 || kinds[0] != "admin" || kinds[1] != "automatic" {
		t.Fatalf("refund kinds %v (%v)", kinds, err)
	}
	// Straight into the table (as the owner), a second automatic refund of
	// the payment is refused by the index, not only by the query.
	_, err = db.Admin.Exec(t.Context(), `INSERT INTO refunds (tenant_id, payment_id, booking_id, amount, currency, reason, kind)
		SELECT tenant_id, payment_id, booking_id, amount, currency, reason, kind FROM refunds WHERE kind = 'automatic'`)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.ConstraintName != "refunds_automatic_key" {
		t.Fatalf("a second automatic refund of a payment: %v", err)
	}
}

func paymentID(t *testing.T, db *pgtest.DB, ref string) string {
	t.Helper()
	var id string
	if err := db.Admin.QueryRow(t.Context(), "SELECT id::text FROM payments WHERE reference = $1", ref).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
