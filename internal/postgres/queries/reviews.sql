-- name: LockChargesOfBooking
-- The booking's successful charges (those reversed since too), locked in
-- attempt order before the booking is: Settle locks a payment, then its
-- booking. With whether each confirmed the booking (no outcome), and what
-- it paid in the currency it was paid in.
SELECT id::text, outcome = '', COALESCE(paid_amount, 0), COALESCE(paid_currency, currency) FROM payments
WHERE booking_id = $1 AND status IN ('success', 'reversed')
ORDER BY attempt
FOR UPDATE;

-- name: CountChargesOfBooking
SELECT count(*) FROM payments WHERE booking_id = $1 AND status IN ('success', 'reversed');

-- name: CountBookingTickets
-- The booking's tickets that are not void, and all of them.
SELECT count(*) FILTER (WHERE status <> 'void'), count(*) FROM tickets WHERE booking_id = $1;

-- name: ResolveBooking
-- Takes a booking out of review, to status $2.
UPDATE bookings SET status = $2, version = version + 1, updated_at = now()
WHERE id = $1 AND status = 'review';
