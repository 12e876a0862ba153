package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ticketd-io/ticketd/internal/pgtest"
)

// The dashboards and the alert rules name metrics that only the running
// service can say exist. These helpers read the names out of them, so
// that a test can compare them with live scrapes: renaming a metric then
// breaks the build, not a panel or an alert nobody looks at until the
// night it should have fired.

// promqlKeywords are the words of PromQL that are not metric names:
// aggregation operators (which may be followed by by/without before their
// parenthesis), set and comparison operators, and modifiers.
var promqlKeywords = map[string]bool{
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "group": true, "stddev": true,
	"stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
	"limitk": true, "limit_ratio": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true,
}

// promqlGrouping are the keywords followed by a parenthesised label list.
var promqlGrouping = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// promqlMetrics returns the metric names an expression selects: every
// identifier that is not a keyword, a function (followed by a parenthesis),
// a label (inside braces or a grouping list), a string, a number or
// duration, or a Grafana variable.
func promqlMetrics(expr string) []string {
	var names []string
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	// skipTo returns the index just past the closing byte that matches
	// expr[i], skipping strings inside.
	skipTo := func(i int, closing byte) int {
		for i++; i < len(expr) && expr[i] != closing; i++ {
			if q := expr[i]; q == '"' || q == '\'' || q == '`' {
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' && q != '`' {
						i++
					}
				}
			}
		}
		return i + 1
	}
	nextNonSpace := func(i int) int {
		for i < len(expr) && strings.ContainsRune(" \t\r\n", rune(expr[i])) {
			i++
		}
		return i
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i, c) // a string: skipTo stops at the closing quote
		case c == '{':
			i = skipTo(i, '}')
		case c == '[':
			i = skipTo(i, ']')
		case c == '$':
			for i++; i < len(expr) && (isIdent(expr[i]) || expr[i] == '{' || expr[i] == '}'); i++ {
			}
		case c >= '0' && c <= '9' || c == '.':
			for i++; i < len(expr) && (isIdent(expr[i]) || expr[i] == '.'); i++ {
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := nextNonSpace(i)
			switch {
			case promqlGrouping[strings.ToLower(word)] && next < len(expr) && expr[next] == '(':
				i = skipTo(next, ')')
			case promqlKeywords[strings.ToLower(word)]:
			case next < len(expr) && expr[next] == '(':
				// a function
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
		default:
			i++
		}
	}
	return names
}

// monitoredQuery is one PromQL expression of a dashboard panel or a rule.
type monitoredQuery struct {
	where string // file and panel or rule
	expr  string
}

// dashboardQueries returns the expressions of every panel (and nested
// panel) of the Grafana dashboards in dir.
func dashboardQueries(t *testing.T, dir string) []monitoredQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dir, err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var queries []monitoredQuery
	var walk func(file string, raw []json.RawMessage)
	walk = func(file string, raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					queries = append(queries, monitoredQuery{where: filepath.Base(file) + ": " + p.Title, expr: tg.Expr})
				}
			}
			walk(file, p.Panels)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []json.RawMessage `json:"panels"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(f, d.Panels)
	}
	return queries
}

// ruleQueries returns the expressions of the Prometheus rules file and the
// names its recording rules define.
func ruleQueries(t *testing.T, file string) (queries []monitoredQuery, recorded map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Record string `yaml:"record"`
				Alert  string `yaml:"alert"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	recorded = map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
			queries = append(queries, monitoredQuery{where: filepath.Base(file) + ": " + r.Record + r.Alert, expr: r.Expr})
		}
	}
	return queries, recorded
}

func TestPromQLMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (route, le) (rate(http_request_duration_seconds_bucket{job=~"$job", route="/v1/{id}"}[$__rate_interval]))`: {"http_request_duration_seconds_bucket"},
		`histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 0.5 and on (job) y:ratio_rate5m > 0.1`:               {"x_bucket", "y:ratio_rate5m"},
		`absent(up{job="ticketd-worker"})`: {"up"},
		`max without (instance) (ticketd_queue_tasks{state="archived"}) - ticketd_queue_tasks offset 1h`: {"ticketd_queue_tasks"},
		`count by (version) (ticketd_build_info) / ignoring(version) group_left sum(a)`:                  {"ticketd_build_info", "a"},
		`increase(ticketd_payments_total{outcome="amount_mismatch"}[15m]) > 1e3`:                         {"ticketd_payments_total"},
		`label_replace(b, "dst", "$1", "src", "(.*)") unless bool c`:                                     {"b", "c"},
		`sum(rate(x{a="}"}[1m])) by (job)`:                                                               {"x"},
	} {
		if got := promqlMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("promqlMetrics(%s) = %q, want %q", expr, got, want)
		}
	}
}

func TestDashboardsAndRulesParse(t *testing.T) {
	queries := dashboardQueries(t, "../../dashboards")
	rules, recorded := ruleQueries(t, "../../deploy/prometheus/rules.yml")
	if len(queries) < 20 || len(rules) < 10 || len(recorded) == 0 {
		t.Fatalf("read %d panel queries, %d rules, %d recorded names: fewer than the files hold", len(queries), len(rules), len(recorded))
	}
	for _, q := range append(queries, rules...) {
		if len(promqlMetrics(q.expr)) == 0 {
			t.Errorf("%s: no metric in %q", q.where, q.expr)
		}
	}
}

// scrapeNames returns the sample names of a /metrics scrape (a histogram
// shows as its _bucket, _sum and _count).
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if end := strings.IndexAny(line, "{ "); end > 0 {
			names[line[:end]] = true
		}
	}
	return names
}

// TestDashboardsAndAlertsUseExportedMetrics runs the API and the worker as
// the separate processes of a real deployment, drives a booking through
// payment (the webhook's verification runs on the worker), scrapes both
// /metrics and fails when a metric that a dashboard panel or an alert or
// recording rule uses is missing from the process that should export it.
// The API has a read replica (the test's database again), whose metrics
// only an API with one exports.
func TestDashboardsAndAlertsUseExportedMetrics(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, stackOptions{dbVars: func(t *testing.T, db *pgtest.DB) map[string]string {
		return map[string]string{"DATABASE_READ_URL": db.AppURL}
	}})
	s.stop() // the stack's in-process worker: the worker below is a `ticketd work` of its own
	cfg := s.app.cfg
	cfg.MetricsAddr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	worked := make(chan error, 1)
	go func() { worked <- work(ctx, cfg, io.Discard, listening) }()
	t.Cleanup(func() {
		cancel()
		if err := <-worked; err != nil {
			t.Errorf("work: %v", err)
		}
	})
	var workerAddr string
	select {
	case workerAddr = <-listening:
	case err := <-worked:
		t.Fatalf("work: %v", err)
	}

	_, _, booking, reference := s.checkout(5, 2)
	s.pay(reference, "success") // the simulator's webhook reaches the API, which hands it to the worker
	s.waitStatus(booking, "confirmed")
	s.waitFor("the worker to count the verification it ran", func() bool {
		return scrapeNames(t, "http://"+workerAddr+"/metrics")["ticketd_worker_task_duration_seconds_bucket"]
	})

	api := scrapeNames(t, s.api+"/metrics")
	workerNames := scrapeNames(t, "http://"+workerAddr+"/metrics")
	either := map[string]bool{"up": true} // up is Prometheus's own, for every target
	for n := range api {
		either[n] = true
	}
	for n := range workerNames {
		either[n] = true
	}
	queries := dashboardQueries(t, "../../dashboards")
	rules, recorded := ruleQueries(t, "../../deploy/prometheus/rules.yml")
	checked := 0
	for _, q := range append(queries, rules...) {
		// A query of one job's metrics must find them in that job's scrape;
		// the API dashboard's $job is the API's.
		exported, from := either, "the API or the worker"
		switch {
		case strings.Contains(q.expr, `job="ticketd-worker"`):
			exported, from = workerNames, "the worker"
		case strings.Contains(q.expr, `job="ticketd-api"`), strings.HasPrefix(q.where, "ticketd-api.json") && strings.Contains(q.expr, `$job`):
			exported, from = api, "the API"
		}
		for _, name := range promqlMetrics(q.expr) {
			if recorded[name] || name == "up" {
				continue
			}
			checked++
			if !exported[name] {
				t.Errorf("%s uses %s, which %s does not export", q.where, name, from)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d metric uses: the dashboards or rules were not read", checked)
	}
}
