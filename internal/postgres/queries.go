package postgres

import (
	"embed"
	"fmt"
	"strings"
)

// The SQL of this package lives in queries/*.sql, one statement per
// "-- name: X" block, and is loaded into package variables when the package
// initializes, so a misspelled name fails every test run at once.
//
//go:embed queries/*.sql
var queryFiles embed.FS

var queries = loadQueries()

func loadQueries() map[string]string {
	out := map[string]string{}
	files, err := queryFiles.ReadDir("queries")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		b, err := queryFiles.ReadFile("queries/" + f.Name())
		if err != nil {
			panic(err)
		}
		var name string
		var body strings.Builder
		flush := func() {
			if name != "" {
				addQuery(out, name, strings.TrimSpace(body.String()))
			}
			body.Reset()
		}
		for _, line := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
				flush()
				name = strings.TrimSpace(n)
				if _, dup := out[name]; dup {
					panic(fmt.Sprintf("postgres: query %q defined twice", name))
				}
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
		}
		flush()
	}
	return out
}

// keysetDirections fill the {{after}} and {{order}} markers of a keyset
// listing that can run in either direction; such a query X becomes X/asc
// and X/desc.
var keysetDirections = map[string]*strings.Replacer{
	"asc":  strings.NewReplacer("{{after}}", ">", "{{order}}", "ASC"),
	"desc": strings.NewReplacer("{{after}}", "<", "{{order}}", "DESC"),
}

func addQuery(out map[string]string, name, sql string) {
	if !strings.Contains(sql, "{{order}}") {
		out[name] = sql
		return
	}
	for dir, r := range keysetDirections {
		out[name+"/"+dir] = r.Replace(sql)
	}
}

// query returns the named statement; it panics at package initialization
// when the name is unknown.
func query(name string) string {
	q, ok := queries[name]
	if !ok || q == "" {
		panic(fmt.Sprintf("postgres: no query named %q in queries/*.sql", name))
	}
	return q
}
