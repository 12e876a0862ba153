# The two commands of the README are `make run` and `make test`; both first
# make sure Postgres and Redis are reachable (deploy/local-services.sh starts
# throwaway local ones when they are not).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test services vet fmt-check promtool-check openapi-lint browser-test postman build clean-services

## run: migrate and serve with development defaults (ticketd dev)
run: services
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/ticketd dev

## test: vet, format check, the Prometheus rules' checks, every test with the race detector, the scale-out
## chaos test once on the shared Redis (see chaos), a short fuzzing run of the request decoders and
## validators (FUZZTIME each: a count of inputs, since a time limit can end the run with a spurious
## "context deadline exceeded"), and the browser tests
FUZZTIME ?= 10000x
test: services vet fmt-check promtool-check openapi-lint
	$(GO) test -race -count=1 ./...
	TICKETD_CHAOS=1 $(GO) test -run '^TestScaleOutChaos$$' -count=1 -timeout 10m ./cmd/ticketd
	$(GO) test -run '^$$' -fuzz '^FuzzVenueBody$$' -fuzztime $(FUZZTIME) ./internal/httpapi
	$(GO) test -run '^$$' -fuzz '^FuzzBookingBody$$' -fuzztime $(FUZZTIME) ./internal/httpapi
	$(MAKE) --no-print-directory browser-test

## test-busy: make test RUNS times in a row (10 by default) while stress-ng keeps every core
## busy: the check that the suite does not depend on an idle machine
RUNS ?= 10
.PHONY: test-busy
test-busy: services
	@command -v stress-ng >/dev/null || { echo "stress-ng is not installed (apt-get install stress-ng)"; exit 1; }
	@stress-ng --cpu 0 --timeout 0 >/dev/null 2>&1 & load=$$!; trap 'kill $$load' EXIT; \
	for i in $$(seq $(RUNS)); do echo "== make test, run $$i of $(RUNS), every core busy"; \
		$(MAKE) --no-print-directory test || { echo "== run $$i of $(RUNS) failed"; exit 1; }; done; \
	echo "== $(RUNS) of $(RUNS) runs passed"

services:
	@deploy/local-services.sh ensure

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l cmd internal migrations); if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

## promtool-check: the Prometheus config and rules in deploy/prometheus are valid and the rules
## pass their unit tests. Needs promtool (Debian's package prometheus; .ci/run installs it).
PROMTOOL ?= promtool
promtool-check:
	@command -v $(PROMTOOL) >/dev/null || { echo "promtool is not installed: apt-get install --no-install-recommends prometheus (as .ci/run does, without starting its service)"; exit 1; }
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) check rules deploy/prometheus/rules.yml
	$(PROMTOOL) test rules deploy/prometheus/rules_test.yml

## openapi-lint: the OpenAPI document passes Redocly's recommended ruleset, with the Redocly CLI
## pinned in deploy/apidocs (installed there from the npm registry by npm ci; needs Node.js >= 20.19)
APIDOCS := deploy/apidocs
openapi-lint: $(APIDOCS)/node_modules/.package-lock.json
	cd $(APIDOCS) && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		node_modules/.bin/redocly lint --extends recommended ../../internal/httpapi/openapi.json

$(APIDOCS)/node_modules/.package-lock.json: $(APIDOCS)/package.json $(APIDOCS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is not installed (Node.js >= 20.19 with npm)"; exit 1; }
	cd $(APIDOCS) && npm ci --no-audit --no-fund

## browser-test: the browser tests of deploy/browser (*.test.mjs: Playwright's library, pinned there and
## installed by npm ci, driving Debian's Chromium) against `ticketd dev` on a throwaway database
## (deploy/browser/run.sh); screenshots in .local/browser/<timestamp>/. Needs Node.js >= 20.19 and
## chromium (.ci/run installs it)
BROWSER := deploy/browser
browser-test: services $(BROWSER)/node_modules/.package-lock.json
	GO=$(GO) $(BROWSER)/run.sh

$(BROWSER)/node_modules/.package-lock.json: $(BROWSER)/package.json $(BROWSER)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is not installed (Node.js >= 20.19 with npm)"; exit 1; }
	cd $(BROWSER) && npm ci --no-audit --no-fund

## postman: regenerate the Postman collection from the OpenAPI document (a test fails when it is stale)
postman:
	$(GO) run ./cmd/ticketd postman > docs/postman/ticketd.postman_collection.json

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ticketd ./cmd/ticketd

## clean-services: stop what deploy/local-services.sh started
clean-services:
	@deploy/local-services.sh stop

## bench: the flash-sale benchmark against a throwaway database (docs/benchmarks.md);
## flags for ticketbench go in BENCH_FLAGS, e.g. make bench BENCH_FLAGS='-phases closed'
.PHONY: bench
bench: services
	GO=$(GO) deploy/bench.sh $(BENCH_FLAGS)

## restore-drill: back up a database (SOURCE_DATABASE_URL, default the development one), restore it into a
## throwaway copy, check it and serve it with an empty Redis (docs/deploy.md, "Backups and restore")
.PHONY: restore-drill
restore-drill: services
	GO=$(GO) deploy/restore-drill.sh

## bench-waitroom: the waiting room's on-sale benchmark (docs/benchmarks.md): 100,000 visitors join one
## event's room over HTTP for 5,000 places; heavy, run it alone
.PHONY: bench-waitroom
bench-waitroom: services
	TICKETD_BENCH_WAITROOM=1 $(GO) test -run '^TestWaitingRoomOnSale$$' -count=1 -timeout 20m -v ./internal/httpapi

## chaos: the scale-out chaos test (TestScaleOutChaos in cmd/ticketd): three `ticketd serve` and two
## `ticketd work` of the built binary, a flash sale across them, one API and one worker killed with
## SIGKILL and the test's Redis data lost mid-sale, then the invariants; heavy (five processes), run it
## alone. It runs on the shared Redis and then on a three-master Redis Cluster of its own
## (CHAOS_REDIS='1 cluster'); CHAOS_RUNS=N runs each N times; TICKETD_CHAOS_LOGS=dir keeps the
## processes' logs
CHAOS_RUNS ?= 1
CHAOS_REDIS ?= 1 cluster
.PHONY: chaos
chaos: services
	for mode in $(CHAOS_REDIS); do \
		TICKETD_CHAOS=$$mode $(GO) test -run '^TestScaleOutChaos$$' -count=$(CHAOS_RUNS) -timeout 30m -v ./cmd/ticketd || exit 1; \
	done

## swagger-ui: refresh the vendored Swagger UI of /api/docs from the npm registry, at the version
## and tarball integrity pinned in internal/httpapi/swaggerui/PIN (needs npm; the build does not)
.PHONY: swagger-ui
swagger-ui:
	deploy/swagger-ui.sh

## jsqr: re-vendor the QR decoder of the check-in page (the package, version and integrity in
## internal/storefront/assets/vendor/PIN)
.PHONY: jsqr
jsqr:
	deploy/vendor-npm.sh internal/storefront/assets/vendor dist/jsQR.js LICENSE
