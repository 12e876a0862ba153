// Package policies embeds the Casbin model and policy that decide which role
// may call which route, so the binary carries exactly the reviewed files.
package policies

import _ "embed"

// Model is the Casbin model (model.conf).
//
//go:embed model.conf
var Model string

// Policy is the Casbin policy (policy.csv).
//
//go:embed policy.csv
var Policy string
