package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// HeaderWaitingRoomToken carries the token of a waiting room's visitor: on
// the room's status and on a booking of an event whose room is open.
const HeaderWaitingRoomToken = "Waiting-Room-Token"

// Defaults of the waiting room's event stream.
const (
	defaultRoomStreamFor   = 60 * time.Second
	defaultRoomStreamEvery = 2 * time.Second
	defaultRoomStreams     = 10000
)

type waitingRoomRequest struct {
	Enabled                *bool   `json:"enabled"`
	OpensAt                *string `json:"opensAt"`
	AdmitPerMinute         int     `json:"admitPerMinute"`
	AdmissionWindowSeconds int     `json:"admissionWindowSeconds"`
}

type waitingRoomResponse struct {
	EventID                string    `json:"eventId"`
	Enabled                bool      `json:"enabled"`
	OpensAt                time.Time `json:"opensAt"`
	AdmitPerMinute         int       `json:"admitPerMinute"`
	AdmissionWindowSeconds int       `json:"admissionWindowSeconds"`
	CreatedAt              time.Time `json:"createdAt"`
	UpdatedAt              time.Time `json:"updatedAt"`
}

func toWaitingRoomResponse(r *ticketing.WaitingRoom) waitingRoomResponse {
	return waitingRoomResponse{EventID: r.EventID, Enabled: r.Enabled, OpensAt: r.OpensAt.UTC(), AdmitPerMinute: r.AdmitPerMinute,
		AdmissionWindowSeconds: int(r.AdmissionWindow / time.Second), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type queueStatusResponse struct {
	Position             int        `json:"position"`
	Ahead                int        `json:"ahead"`
	Admitted             bool       `json:"admitted"`
	AdmittedUntil        *time.Time `json:"admittedUntil"`
	EstimatedWaitSeconds int        `json:"estimatedWaitSeconds"`
	AdmitPerMinute       int        `json:"admitPerMinute"`
	State                string     `json:"state"`
}

func toQueueStatusResponse(st ticketing.QueueStatus) queueStatusResponse {
	r := queueStatusResponse{Position: st.Position, Ahead: st.Ahead, Admitted: st.Admitted,
		EstimatedWaitSeconds: st.EstimatedWaitSeconds, AdmitPerMinute: st.AdmitPerMinute, State: st.State}
	if st.Admitted {
		r.AdmittedUntil = utcPtr(&st.AdmittedUntil)
	}
	return r
}

type joinResponse struct {
	Token string `json:"token"`
	queueStatusResponse
}

func (s *Server) putWaitingRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	var req waitingRoomRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var t times
	opensAt := t.parse("opensAt", req.OpensAt)
	if err := t.p.Err(); err != nil {
		return err
	}
	r := ticketing.WaitingRoom{EventID: id, Enabled: req.Enabled == nil || *req.Enabled, AdmitPerMinute: req.AdmitPerMinute,
		AdmissionWindow: time.Duration(req.AdmissionWindowSeconds) * time.Second}
	if opensAt != nil {
		r.OpensAt = *opensAt
	}
	out, err := s.deps.WaitingRooms.ConfigureRoom(c.UserContext(), r)
	if err != nil {
		return err
	}
	return c.JSON(toWaitingRoomResponse(out))
}

func (s *Server) deleteWaitingRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	if err := s.deps.WaitingRooms.DeleteRoom(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// getWaitingRoom answers a visitor's status when the request carries a
// token, else the room's configuration to staff.
func (s *Server) getWaitingRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	if token := roomToken(c); token != "" || !isStaff(c) {
		if token == "" {
			return invalid("send the %s header that joining the waiting room returned", HeaderWaitingRoomToken)
		}
		st, err := s.deps.WaitingRooms.Status(c.UserContext(), id, token)
		if err != nil {
			return err
		}
		return c.JSON(toQueueStatusResponse(st))
	}
	r, err := s.deps.WaitingRooms.FindRoom(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toWaitingRoomResponse(r))
}

// roomToken is the visitor's token: the header, or the token query
// parameter for browsers' EventSource, which cannot send headers.
func roomToken(c *fiber.Ctx) string {
	if v := c.Get(HeaderWaitingRoomToken); v != "" {
		return strings.Clone(v)
	}
	return strings.Clone(c.Query("token"))
}

func (s *Server) joinWaitingRoom(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	if err := s.limitJoins(c); err != nil {
		return err
	}
	st, token, err := s.deps.WaitingRooms.Join(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(joinResponse{Token: token, queueStatusResponse: toQueueStatusResponse(st)})
}

// limitJoins counts a join per tenant+client address and refuses it with
// 429 and Retry-After past the limit, on the limiter bookings use.
func (s *Server) limitJoins(c *fiber.Ctx) error {
	if s.deps.WaitingRoomLimiter == nil || s.cfg.WaitingRoomJoinLimitIP <= 0 {
		return nil
	}
	tenant := ticketing.TenantFromContext(c.UserContext())
	wait, err := s.deps.WaitingRoomLimiter.Allow(c.UserContext(), tenant.ID,
		redis.Limit{Subject: "ip:" + s.clientIP(c), Max: s.cfg.WaitingRoomJoinLimitIP})
	if err != nil {
		return ticketing.Internal(err)
	}
	if wait > 0 {
		return tooMany(c, wait)
	}
	return nil
}

// checkAdmission refuses a booking of an event whose waiting room is open
// unless its token is admitted; it runs before anything is held or written.
func (s *Server) checkAdmission(c *fiber.Ctx, eventID string) (gated bool, err error) {
	if s.deps.WaitingRooms == nil {
		return false, nil
	}
	return s.deps.WaitingRooms.CheckAdmission(c.UserContext(), eventID, strings.Clone(c.Get(HeaderWaitingRoomToken)))
}

// waitingRoomEvents streams the visitor's status as server-sent events
// every WaitingRoomStreamEvery and ends after WaitingRoomStreamFor (the
// client reconnects), when the client goes away, or when the server shuts
// down. At most WaitingRoomStreams streams run at once per process, half of
// them for one organizer and three for one account (streamSlots).
func (s *Server) waitingRoomEvents(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	token := roomToken(c)
	if token == "" {
		return invalid("send the %s header (or the token query parameter) that joining the waiting room returned", HeaderWaitingRoomToken)
	}
	// The first status is answered as any request's: an error is a JSON
	// error, not an event.
	ctx := context.WithoutCancel(c.UserContext())
	st, err := s.deps.WaitingRooms.Status(ctx, id, token)
	if err != nil {
		return err
	}
	tenant := ticketing.TenantFromContext(ctx)
	actor, _ := ticketing.ActorFromContext(ctx)
	if err := s.streams.acquire(tenant.ID, actor.UserID, s.roomStreams()); err != nil {
		c.Set(fiber.HeaderRetryAfter, "5")
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	conn := c.Context().Conn()
	every, streamFor := s.roomStreamEvery(), s.roomStreamFor()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.streams.release(tenant.ID, actor.UserID)
		end := time.NewTimer(streamFor)
		defer end.Stop()
		tick := time.NewTicker(every)
		defer tick.Stop()
		send := func(event string, v any) bool {
			if conn != nil {
				// The server's write timeout covers one response; a stream
				// lives longer, so each event gets its own deadline.
				_ = conn.SetWriteDeadline(time.Now().Add(every + 10*time.Second))
			}
			b, _ := json.Marshal(v)
			_, _ = w.WriteString("event: " + event + "\ndata: ")
			_, _ = w.Write(b)
			_, _ = w.WriteString("\n\n")
			return w.Flush() == nil
		}
		if !send("status", toQueueStatusResponse(st)) {
			return
		}
		for {
			select {
			case <-s.closing:
				send("end", fiber.Map{"reason": "shutdown"})
				return
			case <-end.C:
				send("end", fiber.Map{"reason": "reconnect"})
				return
			case <-tick.C:
				st, err := s.deps.WaitingRooms.Status(ctx, id, token)
				if err != nil {
					code := ticketing.CodeInternal
					if e := ticketing.AsError(err); e != nil && e.Kind != ticketing.KindInternal {
						code = e.Code
					}
					send("error", fiber.Map{"code": code})
					return
				}
				if !send("status", toQueueStatusResponse(st)) {
					return
				}
			}
		}
	})
	return nil
}

func (s *Server) roomStreams() int {
	if s.cfg.WaitingRoomStreams > 0 {
		return s.cfg.WaitingRoomStreams
	}
	return defaultRoomStreams
}

func (s *Server) roomStreamEvery() time.Duration {
	if s.cfg.WaitingRoomStreamEvery > 0 {
		return s.cfg.WaitingRoomStreamEvery
	}
	return defaultRoomStreamEvery
}

func (s *Server) roomStreamFor() time.Duration {
	if s.cfg.WaitingRoomStreamFor > 0 {
		return s.cfg.WaitingRoomStreamFor
	}
	return defaultRoomStreamFor
}
