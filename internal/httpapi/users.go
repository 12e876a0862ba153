package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

func (s *Server) listUsers(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := ticketing.UserFilter{Email: strings.Clone(c.Query("email")), Page: page}
	if r := c.Query("role"); r != "" {
		role := ticketing.Role(strings.ToUpper(r))
		if !role.Valid() {
			return invalid("role must be USER, ADMIN or CHECKIN")
		}
		f.Role = &role
	}
	users, next, err := s.deps.Users.FindUsers(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(listOf(users, toUserResponse, next))
}

func (s *Server) getUser(c *fiber.Ctx) error {
	id, err := pathID(c, "user")
	if err != nil {
		return err
	}
	u, err := s.deps.Users.FindUserByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toUserResponse(u))
}

type updateUserRequest struct {
	Role    *string `json:"role"`
	Name    *string `json:"name"`
	Version int     `json:"version"`
}

// updateUser changes a user's role or name. A role change ends the user's
// sessions, so the new role applies from their next sign-in rather than
// when their access token happens to expire.
func (s *Server) updateUser(c *fiber.Ctx) error {
	id, err := pathID(c, "user")
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	upd := ticketing.UserUpdate{Name: req.Name, Version: req.Version}
	if req.Role != nil {
		role := ticketing.Role(*req.Role)
		upd.Role = &role
	}
	u, ended, err := s.deps.Users.UpdateUser(c.UserContext(), id, upd)
	if err != nil {
		return err
	}
	if err := s.revokeAccess(c, ended...); err != nil {
		return err
	}
	return c.JSON(toUserResponse(u))
}
