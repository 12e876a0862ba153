package ticketing

import "context"

// contextKey is private so that only the accessors below read or write the
// request identity carried in a context.
type contextKey int

const (
	tenantKey contextKey = iota + 1
	actorKey
	requestIDKey
)

// Actor is who performs an operation inside a tenant: a signed-in user, or a
// named system actor such as a worker or the platform operator.
type Actor struct {
	// UserID is the acting user's id; empty for system actors.
	UserID string
	// Role is the actor's role in the tenant (USER, ADMIN) or SYSTEM.
	Role string
	// Name identifies system actors in audit rows, for example "platform".
	Name string
}

// RoleSystem is the role of non-human actors (workers, the platform API).
const RoleSystem = "SYSTEM"

// PlatformActor names the platform operator, who acts through the platform
// API key, in contexts and audit rows.
const PlatformActor = "platform"

// SystemActor returns a named system actor.
func SystemActor(name string) Actor { return Actor{Role: RoleSystem, Name: name} }

// WithTenant returns a copy of ctx that carries the resolved tenant.
func WithTenant(ctx context.Context, t *Tenant) context.Context {
	return context.WithValue(ctx, tenantKey, t)
}

// TenantFromContext returns the tenant carried by ctx, or nil.
func TenantFromContext(ctx context.Context) *Tenant {
	t, _ := ctx.Value(tenantKey).(*Tenant)
	return t
}

// WithActor returns a copy of ctx that carries the acting user or system.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey, a)
}

// ActorFromContext returns the actor carried by ctx and whether there is one.
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey).(Actor)
	return a, ok
}

// WithRequestID returns a copy of ctx that carries the request id, so that
// audit rows and log lines written deep in a call can name their request.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFromContext returns the request id carried by ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// OwnerScope is the user whose bookings and tickets the actor of ctx may
// see: themselves, or anyone ("") for staff and the system.
func OwnerScope(ctx context.Context) string {
	a, _ := ActorFromContext(ctx)
	if a.Role == string(RoleAdmin) || a.Role == RoleSystem {
		return ""
	}
	return a.UserID
}
