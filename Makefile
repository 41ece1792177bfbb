# raftvip: `make demo` shows a failover in network namespaces (root), `make test`
# runs every test (the end-to-end suite needs root and skips without it).
GO      ?= go
BIN     := bin/raftvip
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test unit e2e demo deps vet fuzz clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/raftvip

vet:
	$(GO) vet ./...

# The README's test command. CI runs it as root with CI=true, where the
# namespace tests must run rather than skip.
test: vet
	$(GO) test -count=1 ./...

unit: vet
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: build
	$(GO) test -count=1 -v ./e2e/...

# A three-node cluster in network namespaces on this machine, and a failover.
demo: deps build
	$(GO) run ./e2e/cmd/demo -bin $(BIN)

# Tools the namespace lab needs, from the distribution's packages.
deps:
	@./scripts/lab-deps.sh

fuzz:
	$(GO) test ./fsm -run '^$$' -fuzz FuzzDecode -fuzztime 60s

clean:
	rm -rf bin
