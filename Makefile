# proxyhub's developer commands. `make test` is the whole test suite; CI
# (.ci/run) calls the same target.

GO ?= go

.PHONY: serve test build static openapi lint

serve: ## run the hub on the embedded store
	$(GO) run ./cmd/proxyhub serve

test: ## the whole test suite, with the race detector; finds or starts PostgreSQL (scripts/test.sh)
	bash scripts/test.sh

build: ## build bin/proxyhub and bin/proxyhub-loadtest (the commit recorded for `proxyhub version`)
	$(GO) build -buildvcs=auto -trimpath -o bin/proxyhub ./cmd/proxyhub
	$(GO) build -o bin/proxyhub-loadtest ./cmd/proxyhub-loadtest

# static: the container image's binary (deploy/Dockerfile): no cgo, so it
# runs on an empty base; VERSION, when set, is the release version.
OUT ?= bin/proxyhub-static
VERSION ?=
static: ## build the static binary the container image ships (OUT=path, VERSION=v1.2.3)
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -trimpath -ldflags "-s -w -X github.com/proxyhub/proxyhub/internal/buildinfo.version=$(VERSION)" -o $(OUT) ./cmd/proxyhub

openapi: ## regenerate openapi.yaml from the code
	$(GO) run ./cmd/proxyhub openapi > openapi.yaml

lint: ## gofmt and go vet, as CI runs them
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
