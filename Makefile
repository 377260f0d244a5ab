# proxyhub's developer commands. `make test` is the whole test suite; CI
# (.ci/run) calls the same target.

GO ?= go

.PHONY: serve test build openapi lint

serve: ## run the hub on the embedded store
	$(GO) run ./cmd/proxyhub serve

test: ## the whole test suite, with the race detector; finds or starts PostgreSQL (scripts/test.sh)
	bash scripts/test.sh

build: ## build bin/proxyhub and bin/proxyhub-loadtest (the commit recorded for `proxyhub version`)
	$(GO) build -buildvcs=auto -trimpath -o bin/proxyhub ./cmd/proxyhub
	$(GO) build -o bin/proxyhub-loadtest ./cmd/proxyhub-loadtest

openapi: ## regenerate openapi.yaml from the code
	$(GO) run ./cmd/proxyhub openapi > openapi.yaml

lint: ## gofmt and go vet, as CI runs them
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
