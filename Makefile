# hitcounter: the project's vocabulary. `make run` and `make test` are all a
# new user needs; everything they depend on is installed on first use.

GO          ?= go
GOBIN_TOOLS := $(CURDIR)/.cache/bin
STATICCHECK := $(GOBIN_TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
PORT        ?= 3000
export PORT

.PHONY: help all run test stress test-short lint fmt bench deps
.DEFAULT_GOAL := help

## help: this list of targets (what `make` alone prints)
# Generated from the `## target: description` comments of this Makefile and
# mk/*.mk, in file order: a target with such a comment is listed.
help:
	@awk -v port='$(PORT)' ' \
		/^## [A-Za-z0-9_.-]+: / { \
			d = $$0; sub(/^## [^:]*: */, "", d); gsub(/\$$\(PORT\)/, port, d); \
			n++; name[n] = substr($$2, 1, length($$2) - 1); desc[n] = d; \
			if (length(name[n]) > w) w = length(name[n]) \
		} \
		END { \
			print "make <target>, one of:"; \
			for (i = 1; i <= n; i++) printf "  %-" w "s  %s\n", name[i], desc[i] \
		}' $(MAKEFILE_LIST)

## all: lint, then test (what CI runs)
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

## stress: soak runs make test leaves out: concurrency tests 50 times, kill and fault loops 10 times (about an hour)
stress: deps
	@GO=$(GO) scripts/stress.sh

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

## fmt: gofmt every Go file in place
fmt:
	gofmt -w $$(git ls-files '*.go')

$(STATICCHECK):
	@echo "first run: installing staticcheck $(STATICCHECK_VERSION) into .cache/bin" >&2
	@GOBIN=$(GOBIN_TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## bench: Go benchmarks, then the servers under load beside their baselines
bench: deps
	@scripts/bench.sh

-include mk/*.mk
