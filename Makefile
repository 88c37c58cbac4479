# hitcounter: the project's vocabulary. `make run` and `make test` are all a
# new user needs; everything they depend on is installed on first use.

GO          ?= go
GOBIN_TOOLS := $(CURDIR)/.cache/bin
STATICCHECK := $(GOBIN_TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
PORT        ?= 3000
export PORT

.PHONY: all run test test-short lint fmt bench deps

all: lint test

## run: serve the API on http://localhost:$(PORT) with the in-memory store
# Built, then exec'd (not `go run`, which exits 1 when interrupted), so that
# Ctrl-C ends with the server's own clean stop and no make error.
run:
	@GO=$(GO) scripts/build-once.sh hitcounter ./cmd/hitcounter
	@exec .cache/bin/hitcounter

## deps: install what the tests need (Java for DynamoDB Local) if missing
deps:
	@scripts/deps.sh

## test: every test, with the race detector, including DynamoDB Local and the real Lambda binaries
test: deps
	@ls -d .cache/rie-* >/dev/null 2>&1 || echo "first run: go test compiles everything and installs the Lambda Runtime Interface Emulator into .cache/ (a few minutes; later runs are faster)" >&2
	$(GO) test -race -count=1 -timeout 15m ./...

## test-short: the fast subset (shorter concurrency runs)
test-short:
	$(GO) test -race -count=1 -short ./...

## lint: gofmt, go vet, staticcheck, a go mod tidy check, and Redocly's lint of docs/openapi.yaml
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@scripts/tidy-check.sh
	@scripts/redocly-lint.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

$(STATICCHECK):
	@echo "first run: installing staticcheck $(STATICCHECK_VERSION) into .cache/bin" >&2
	@GOBIN=$(GOBIN_TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## bench: Go benchmarks, then the servers under load beside their baselines
bench: deps
	@scripts/bench.sh

-include mk/*.mk
