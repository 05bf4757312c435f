# cria: build, run, test.
#
#   make run    build, install missing system packages, serve CRI in the foreground
#   make test   lint, unit and end-to-end tests (as root: they run real containers)

SHELL := /bin/bash
GO    ?= go
export CGO_ENABLED := 1

# Build tags, written once here and nowhere else: libcontainer's seccomp
# (Debian libseccomp-dev), containers/image's pure-Go OpenPGP, and no btrfs
# graph driver in containers/storage.
TAGS := seccomp containers_image_openpgp exclude_graphdriver_btrfs

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

BIN    := $(CURDIR)/bin
PREFIX ?= /usr/local

# Pinned tools, built from the Go module proxy into bin/.
CRICTL_VERSION := v1.37.0

# The test timeout covers the whole e2e suite; CI has 90 minutes in all.
TEST_TIMEOUT ?= 40m
# Extra arguments for go test, e.g. make test TESTFLAGS='-run TestStatus -v'.
TESTFLAGS ?=

.PHONY: all build run test unit e2e bench install lint tools deps clean

all: build

build:
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/cria ./cmd/cria
	$(GO) build -ldflags '-s -w' -o $(BIN)/cria-monitor ./cmd/cria-monitor

# Serve CRI on /run/cria/cria.sock with the embedded defaults (or
# /etc/cria/cria.toml if present). Needs root.
run: deps build
	exec $(BIN)/cria

deps:
	@bash .ci/install-deps

tools: $(BIN)/crictl

$(BIN)/crictl:
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@$(CRICTL_VERSION)

test: deps lint build tools
	CRIA_BINARY=$(BIN)/cria CRICTL=$(BIN)/crictl \
		$(GO) test -tags '$(TAGS)' -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

unit:
	$(GO) test -tags '$(TAGS)' -count=1 ./cri/... ./cmd/... ./oci/... ./image/... ./cgroups/...

e2e: build tools
	CRIA_BINARY=$(BIN)/cria CRICTL=$(BIN)/crictl \
		$(GO) test -tags '$(TAGS)' -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./test/...

# Daemon-level benchmarks; medians over -count runs are reported by
# test/bench itself.
bench: build
	CRIA_BINARY=$(BIN)/cria $(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchtime 50x -count 1 -timeout 30m ./test/bench/

lint:
	$(GO) vet -tags '$(TAGS)' ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

install: build
	install -D -m 0755 $(BIN)/cria $(DESTDIR)$(PREFIX)/bin/cria
	install -D -m 0755 $(BIN)/cria-monitor $(DESTDIR)$(PREFIX)/bin/cria-monitor
	@if [ -z "$$(ls $(DESTDIR)/etc/cni/net.d/*.conf* 2>/dev/null)" ]; then \
		install -D -m 0644 contrib/cni/10-cria-bridge.conflist $(DESTDIR)/etc/cni/net.d/10-cria-bridge.conflist && \
		echo "wrote $(DESTDIR)/etc/cni/net.d/10-cria-bridge.conflist (bridge cria0, 10.88.0.0/16)"; \
	fi
	@if [ ! -e $(DESTDIR)/etc/cria/cria.toml ]; then \
		install -d -m 0755 $(DESTDIR)/etc/cria && \
		$(BIN)/cria config > $(DESTDIR)/etc/cria/cria.toml && \
		echo "wrote $(DESTDIR)/etc/cria/cria.toml"; \
	fi

clean:
	rm -rf $(BIN)
