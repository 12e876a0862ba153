# The two commands of the README are `make run` and `make test`; both first
# make sure Postgres and Redis are reachable (deploy/local-services.sh starts
# throwaway local ones when they are not).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test services vet fmt-check build clean-services

## run: migrate and serve with development defaults (ticketd dev)
run: services
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/ticketd dev

## test: vet, format check and every test with the race detector
test: services vet fmt-check
	$(GO) test -race -count=1 ./...

services:
	@deploy/local-services.sh ensure

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l cmd internal migrations); if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

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
