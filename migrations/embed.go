// Package migrations embeds the SQL migrations so that the binary and the
// tests apply exactly the same files.
package migrations

import "embed"

// FS holds the versioned goose migrations (*.sql at the top level) and the
// role bootstrap that runs before them (bootstrap/roles.sql).
//
//go:embed *.sql bootstrap/*.sql
var FS embed.FS
