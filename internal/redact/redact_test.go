package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, raw := range []string{
		"postgres://app:hunter2@db:5432/tix?sslmode=require",
		"postgres://app@db/tix?sslmode=require&password=hunter2",
		"redis://:hunter2@cache:6379/0",
		"rediss://user:hunter2@cache:6380/0?pass=hunter2",
		"redis+cluster://:hunter2@a:7000,b:7001",
		"redis+sentinel://s1:26379,s2:26379/0?master=m&sentinel_password=hunter2",
	} {
		got := URL(raw)
		if strings.Contains(got, "hunter2") || !strings.Contains(got, "xxxxx") {
			t.Errorf("URL(%q) = %q", raw, got)
		}
	}
	if got := URL("postgres://app@db/tix?sslmode=disable"); got != "postgres://app@db/tix?sslmode=disable" {
		t.Errorf("a URL without secrets changed: %q", got)
	}
}
