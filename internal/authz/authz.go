// Package authz decides with Casbin which role may call which route. The
// model and policy are the embedded files of policies/.
package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	stringadapter "github.com/casbin/casbin/v2/persist/string-adapter"

	"github.com/ticketd-io/ticketd/policies"
)

// Roles that are not tenant roles: a caller without credentials, and the
// platform operator holding the platform API key. Tenant users are USER or
// ADMIN (ticketing.Role).
const (
	RoleAnonymous = "ANONYMOUS"
	RolePlatform  = "PLATFORM"
)

// Enforcer answers route permission questions. It is safe for concurrent use.
type Enforcer struct {
	e *casbin.SyncedCachedEnforcer
}

// New loads the embedded model and policy.
func New() (*Enforcer, error) {
	m, err := model.NewModelFromString(policies.Model)
	if err != nil {
		return nil, fmt.Errorf("authz: model: %w", err)
	}
	e, err := casbin.NewSyncedCachedEnforcer(m, stringadapter.NewAdapter(policies.Policy))
	if err != nil {
		return nil, fmt.Errorf("authz: policy: %w", err)
	}
	return &Enforcer{e: e}, nil
}

// Allowed reports whether role may call method on the route pattern.
func (e *Enforcer) Allowed(role, route, method string) (bool, error) {
	return e.e.Enforce(role, route, method)
}

// Route is a registered route, as the policy names it.
type Route struct{ Path, Method string }

// CheckCoverage returns an error naming every route without a policy line
// and every policy line without a route, so that no route ships without a
// decision and no stale permission lingers.
func (e *Enforcer) CheckCoverage(routes []Route) error {
	var problems []string
	known := map[Route]bool{}
	for _, r := range routes {
		known[r] = true
		lines, err := e.e.GetFilteredPolicy(1, r.Path, r.Method)
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			problems = append(problems, fmt.Sprintf("route %s %s has no policy line", r.Method, r.Path))
		}
	}
	all, err := e.e.GetPolicy()
	if err != nil {
		return err
	}
	for _, p := range all {
		if !known[Route{Path: p[1], Method: p[2]}] {
			problems = append(problems, fmt.Sprintf("policy line %s names no route", strings.Join(p, ", ")))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("authz: policies/policy.csv does not match the routes: %s", strings.Join(problems, "; "))
	}
	return nil
}
