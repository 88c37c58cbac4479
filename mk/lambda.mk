# mk/lambda.mk: building the Lambda functions (included by the top-level Makefile).
#
#   make build                 every function as a static linux/arm64 bootstrap in
#                              $(LAMBDA_BIN)/<name>/bootstrap, with each binary's size
#   make build-<LogicalId>     one function into $(ARTIFACTS_DIR)/bootstrap, for
#                              `sam build` (template.yaml: Metadata BuildMethod: makefile)
#   make local                 the Docker-free `sam local start-api` (tools/cmd/hitcounter-local)
#
# Variables: LAMBDA_FUNCTIONS (the function names: every directory under
# functions/), LAMBDA_BIN (output dir), LAMBDA_MAX_BYTES (size limit `build`
# enforces), LAMBDA_GOFLAGS (go build flags). A new function needs nothing here.

LAMBDA_FUNCTIONS ?= $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
LAMBDA_BIN       ?= bin
LAMBDA_MAX_BYTES ?= 10000000
# lambda.norpc drops aws-lambda-go's legacy RPC mode (not used by
# provided.al2023); nethttpomithttp2 drops net/http's HTTP/2 (DynamoDB and
# the Lambda Runtime API are spoken over HTTP/1.1), about 320 KB a binary.
LAMBDA_GOFLAGS   ?= -tags lambda.norpc,nethttpomithttp2 -trimpath -ldflags "-s -w"
LAMBDA_GOENV     := CGO_ENABLED=0 GOOS=linux GOARCH=arm64

.PHONY: build local

## build: every Lambda function as a static linux/arm64 bin/<name>/bootstrap, with its size
build: $(addprefix build-lambda-,$(LAMBDA_FUNCTIONS))
	@for f in $(LAMBDA_FUNCTIONS); do \
		size=$$(wc -c < $(LAMBDA_BIN)/$$f/bootstrap); \
		printf '%-16s %9d bytes  %s\n' $$f $$size $(LAMBDA_BIN)/$$f/bootstrap; \
		if [ $$size -gt $(LAMBDA_MAX_BYTES) ]; then \
			echo "$$f: bootstrap is larger than $(LAMBDA_MAX_BYTES) bytes" >&2; exit 1; \
		fi; \
	done

build-lambda-%:
	$(LAMBDA_GOENV) go build $(LAMBDA_GOFLAGS) -o $(LAMBDA_BIN)/$*/bootstrap ./functions/$*

# sam build runs these with ARTIFACTS_DIR set and the repository copied to a
# scratch directory (Metadata ProjectRootDirectory/ContextPath: .). It does not
# pass the architecture, so GOARCH and CGO_ENABLED are fixed here, as in
# template.yaml (Architectures: [arm64]).
# The logical ID of the function in functions/<name> is <Name>Function (its
# directory name, capitalized: WebFunction builds functions/web).
build-%Function:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(shell echo '$*' | tr '[:upper:]' '[:lower:]')

## local: the API as deployed, no Docker: the real Lambda binaries under AWS's emulator, on DynamoDB Local
# Built, then exec'd like `make run`, so that Ctrl-C ends cleanly.
local: deps
	@scripts/build-once.sh hitcounter-local ./tools/cmd/hitcounter-local
	@exec .cache/bin/hitcounter-local
