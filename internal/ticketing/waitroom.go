package ticketing

import (
	"context"
	"time"
)

// Bounds of a waiting room's configuration.
const (
	// MaxAdmitPerMinute is the highest fixed admission rate; 0 is auto.
	MaxAdmitPerMinute = 100000
	// MinAdmissionWindow and MaxAdmissionWindow bound how long an
	// admission lasts.
	MinAdmissionWindow = 60 * time.Second
	MaxAdmissionWindow = 3600 * time.Second
	// DefaultAdmissionWindow is the window of a room configured without one.
	DefaultAdmissionWindow = 600 * time.Second
)

// Codes of the waiting room's errors.
const (
	// CodeAdmissionRequired: a booking of an event whose room is open
	// without an admitted, unexpired Waiting-Room-Token.
	CodeAdmissionRequired = "WAITING_ROOM_ADMISSION_REQUIRED"
	// CodeRoomTokenInvalid: a token that is malformed, or signed for another
	// tenant, event or user.
	CodeRoomTokenInvalid = "WAITING_ROOM_TOKEN_INVALID"
	// CodeNotQueued: a token whose visitor is not in the queue (it was
	// lost with Redis, or replaced by a new join): the client joins again.
	CodeNotQueued = "WAITING_ROOM_NOT_QUEUED"
	// CodeRoomDisabled: joining an event that has no enabled room.
	CodeRoomDisabled = "WAITING_ROOM_DISABLED"
)

// Errors of the waiting room, shared by its implementations.
var (
	ErrAdmissionRequired = Errorf(KindForbidden, CodeAdmissionRequired,
		"this event's waiting room is open: join it and book with the Waiting-Room-Token once admitted")
	ErrRoomTokenInvalid = Errorf(KindForbidden, CodeRoomTokenInvalid,
		"the Waiting-Room-Token is not valid for this event and user; join the waiting room again")
	ErrNotQueued = Errorf(KindNotFound, CodeNotQueued,
		"this visitor is not in the waiting room (it may have restarted); join it again")
	ErrRoomDisabled = Errorf(KindConflict, CodeRoomDisabled, "this event has no waiting room")
)

// WaitingRoom is an event's virtual waiting room as its organizer configured
// it: when enabled and open, booking the event needs an admission.
type WaitingRoom struct {
	EventID string
	Enabled bool
	OpensAt time.Time
	// AdmitPerMinute is how many visitors are admitted per minute; 0 is
	// auto (twice the bookings of admitted buyers in the last minute,
	// within the process's bounds).
	AdmitPerMinute int
	// AdmissionWindow is how long an admitted visitor may book.
	AdmissionWindow time.Duration
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Gates reports whether bookings of the event need an admission at now:
// the room is enabled and open.
func (r *WaitingRoom) Gates(now time.Time) bool {
	return r != nil && r.Enabled && !now.Before(r.OpensAt)
}

// Validate checks a configuration, filling the default window.
func (r *WaitingRoom) Validate() error {
	var p Problems
	p.Addf(r.OpensAt.IsZero(), "opensAt is required (RFC 3339)")
	// Far past or far future times are typing mistakes, not on-sales.
	p.Addf(!r.OpensAt.IsZero() && (r.OpensAt.Year() < 2000 || r.OpensAt.After(time.Now().AddDate(5, 0, 0))),
		"opensAt must be a time between the year 2000 and five years from now")
	p.Addf(r.AdmitPerMinute < 0 || r.AdmitPerMinute > MaxAdmitPerMinute,
		"admitPerMinute must be 0 (auto) or from 1 to %d", MaxAdmitPerMinute)
	if r.AdmissionWindow == 0 {
		r.AdmissionWindow = DefaultAdmissionWindow
	}
	p.Addf(r.AdmissionWindow%time.Second != 0 || r.AdmissionWindow < MinAdmissionWindow || r.AdmissionWindow > MaxAdmissionWindow,
		"admissionWindowSeconds must be a whole number from %d to %d", int(MinAdmissionWindow.Seconds()), int(MaxAdmissionWindow.Seconds()))
	return p.Err()
}

// Queue states of a visitor.
const (
	QueueBeforeOpen = "before_open" // the room has not opened; places are drawn at opening
	QueueWaiting    = "waiting"
	QueueAdmitted   = "admitted"
	QueueExpired    = "expired"  // admitted, but the window passed: join again
	QueueSoldOut    = "sold_out" // nothing left to admit to
)

// QueueStatus is where a visitor stands in a waiting room.
type QueueStatus struct {
	// Position counts from 1, the visitors admitted so far included.
	Position int
	// Ahead is how many visitors wait before this one to be admitted.
	Ahead         int
	Admitted      bool
	AdmittedUntil time.Time
	// EstimatedWaitSeconds is Ahead at the current rate.
	EstimatedWaitSeconds int
	AdmitPerMinute       int
	State                string
}

// WaitingRoomService configures waiting rooms and queues their visitors.
// Tenant, user and role come from the context.
type WaitingRoomService interface {
	// ConfigureRoom creates or replaces an event's room. Returns KindInvalid
	// for a bad configuration and NotFound for an event of no tenant's own.
	ConfigureRoom(ctx context.Context, r WaitingRoom) (*WaitingRoom, error)
	// FindRoom returns an event's room, NotFound when it has none.
	FindRoom(ctx context.Context, eventID string) (*WaitingRoom, error)
	// DeleteRoom removes an event's room, NotFound when it has none.
	DeleteRoom(ctx context.Context, eventID string) error
	// Join queues the user (idempotent: the same place and visitor while
	// waiting or admitted) and returns the status and the visitor's token.
	// ErrRoomDisabled when the event has no enabled room.
	Join(ctx context.Context, eventID string) (QueueStatus, string, error)
	// Status is where the token's visitor stands: ErrRoomTokenInvalid,
	// ErrNotQueued, ErrRoomDisabled.
	Status(ctx context.Context, eventID, token string) (QueueStatus, error)
	// CheckAdmission returns nil when the user may book the event now: the
	// event has no gating room (gated false), or the token is admitted and
	// unexpired (gated true). Otherwise ErrAdmissionRequired or
	// ErrRoomTokenInvalid.
	CheckAdmission(ctx context.Context, eventID, token string) (gated bool, err error)
	// Booked tells the room of the event that an admitted buyer booked (the
	// auto rate follows these).
	Booked(ctx context.Context, eventID, bookingID string)
}
