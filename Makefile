# cria: build, run, test.
#
#   make run    build, install missing system packages, serve CRI in the foreground
#   make test   lint, unit and end-to-end tests (as root: they run real containers)

SHELL := /bin/bash
GO    ?= go
export CGO_ENABLED := 1

# Build tags, written once here and nowhere else: libcontainer's seccomp
# (Debian libseccomp-dev), containers/image's pure-Go OpenPGP, and no btrfs
# graph driver in containers/storage, no WASM plugin runtime in NRI.
TAGS := seccomp containers_image_openpgp exclude_graphdriver_btrfs nri_no_wasm

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

BIN    := $(CURDIR)/bin
PREFIX ?= /usr/local
SYSTEMD_UNIT_DIR ?= /etc/systemd/system

# Pinned tools, built from the Go module proxy into bin/: crictl, and
# critest (the CRI conformance suite, a test binary of the same module).
CRICTL_VERSION := v1.37.0
CRI_TOOLS      := sigs.k8s.io/cri-tools@$(CRICTL_VERSION)
# Debian's dynamically linked busybox, the base of the conformance images
# (see test/conformance); fetched with apt, never installed.
BUSYBOX_DYNAMIC := $(BIN)/busybox-dynamic/bin/busybox
# Debian's statically linked bash: the node e2e suite's agnhost image has
# bash, and its probe specs run scripts with it.
BASH_STATIC := $(BIN)/bash-static/bin/bash-static
# The kubelet that test/e2e/kubelet runs cria under, pinned by its own
# module so that the project's go.mod stays clean.
# KUBELET_VERSION is the k8s.io/kubernetes version that module requires.
KUBELET_MODULE  := test/e2e/kubelet/kubeletbuild
KUBELET_VERSION := v1.37.2
KUBELET_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(KUBELET_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
# Where make conformance keeps critest's JUnit report and output.
CONFORMANCE_REPORTS ?= $(CURDIR)/_output/conformance
# Kubernetes' node e2e suite (e2e_node.test), the ginkgo CLI that runs it
# and agnhost (the suite's test image program), from the kubelet's module;
# make node-e2e keeps the report and output in NODE_E2E_REPORTS.
NODE_E2E_REPORTS ?= $(CURDIR)/_output/node-e2e

# What the tests need to find.
TEST_ENV := CRIA_BINARY=$(BIN)/cria CRICTL=$(BIN)/crictl CRITEST=$(BIN)/critest KUBELET=$(BIN)/kubelet \
	CONFORMANCE_BUSYBOX=$(BUSYBOX_DYNAMIC) CONFORMANCE_REPORT_DIR=$(CONFORMANCE_REPORTS) \
	NODE_E2E_TEST=$(BIN)/e2e_node.test GINKGO=$(BIN)/ginkgo AGNHOST=$(BIN)/agnhost BASH_STATIC=$(BASH_STATIC) NODE_E2E_REPORT_DIR=$(NODE_E2E_REPORTS)

# The test timeout covers the whole suite; CI has 90 minutes in all. make
# test runs one test binary at a time (-p 1): the end-to-end and conformance
# suites each load both cores.
TEST_TIMEOUT ?= 40m
# Extra arguments for go test, e.g. make test TESTFLAGS='-run TestStatus -v'.
TESTFLAGS ?=

.PHONY: all build run test unit e2e e2e-kubelet conformance node-e2e bench bench-scale bench-critest fuzz install lint tools deps clean

all: build

build:
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/cria ./cmd/cria
	# Static: one per container, so no libc and loader to map (1.3 MiB RSS each).
	CGO_ENABLED=0 $(GO) build -ldflags '-s -w' -o $(BIN)/cria-monitor ./cmd/cria-monitor
	# Static too, as runc's releases are: every start execs it as the
	# container's init, and a static binary skips the dynamic loader (about
	# 1 ms a start here). osusergo and netgo keep glibc's NSS out of it.
	$(GO) build -tags '$(TAGS) osusergo netgo' -ldflags "-s -w -linkmode external -extldflags '-static'" -o $(BIN)/cria-start ./cmd/cria-start

# Serve CRI on /run/cria/cria.sock with the embedded defaults (or
# /etc/cria/cria.toml if present). Needs root.
run: deps build
	exec $(BIN)/cria

deps:
	@bash .ci/install-deps

tools: $(BIN)/crictl $(BIN)/critest $(BIN)/kubelet $(BIN)/e2e_node.test $(BIN)/ginkgo $(BIN)/agnhost $(BUSYBOX_DYNAMIC) $(BASH_STATIC)

$(BIN)/crictl:
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@$(CRICTL_VERSION)

# critest is built as the module's own test binary, from its own go.mod.
$(BIN)/critest:
	dir=$$(cd / && GOFLAGS=-mod=mod $(GO) mod download -json $(CRI_TOOLS) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p') && \
		test -n "$$dir" && cd "$$dir" && GOFLAGS=-buildvcs=false $(GO) test -c -o $(BIN)/critest ./cmd/critest

# About 6 minutes cold on 2 cores; the Go build cache keeps it after that.
$(BIN)/kubelet: $(KUBELET_MODULE)/go.mod $(KUBELET_MODULE)/go.sum
	grep -qE "^(require )?\s*k8s.io/kubernetes $(KUBELET_VERSION)( // indirect)?$$" $(KUBELET_MODULE)/go.mod
	cd $(KUBELET_MODULE) && GOFLAGS=-buildvcs=false $(GO) build -ldflags '$(KUBELET_LDFLAGS)' -o $(BIN)/kubelet.new k8s.io/kubernetes/cmd/kubelet
	mv $(BIN)/kubelet.new $(BIN)/kubelet

# About 6 minutes more, cold. The suite runs the kubelet beside it.
$(BIN)/e2e_node.test: $(KUBELET_MODULE)/go.mod $(KUBELET_MODULE)/go.sum
	grep -qE "^(require )?\s*k8s.io/kubernetes $(KUBELET_VERSION)( // indirect)?$$" $(KUBELET_MODULE)/go.mod
	cd $(KUBELET_MODULE) && GOFLAGS=-buildvcs=false $(GO) test -c -ldflags '$(KUBELET_LDFLAGS)' -o $(BIN)/e2e_node.test.new k8s.io/kubernetes/test/e2e_node
	mv $(BIN)/e2e_node.test.new $(BIN)/e2e_node.test

$(BIN)/ginkgo: $(KUBELET_MODULE)/go.mod $(KUBELET_MODULE)/go.sum
	cd $(KUBELET_MODULE) && GOFLAGS=-buildvcs=false $(GO) build -o $(BIN)/ginkgo github.com/onsi/ginkgo/v2/ginkgo

# Static, for the test images.
$(BIN)/agnhost: $(KUBELET_MODULE)/go.mod $(KUBELET_MODULE)/go.sum
	cd $(KUBELET_MODULE) && CGO_ENABLED=0 GOFLAGS=-buildvcs=false $(GO) build -ldflags '-s -w' -o $(BIN)/agnhost k8s.io/kubernetes/test/images/agnhost

$(BUSYBOX_DYNAMIC):
	rm -rf $(BIN)/busybox-dynamic && mkdir -p $(BIN)/busybox-dynamic
	cd $(BIN)/busybox-dynamic && { apt-get download busybox 2>/dev/null || { apt-get update -qq && apt-get download busybox; }; } && \
		dpkg-deb -x busybox_*.deb . && rm -f busybox_*.deb
	test -x $@

$(BASH_STATIC):
	rm -rf $(BIN)/bash-static && mkdir -p $(BIN)/bash-static
	cd $(BIN)/bash-static && { apt-get download bash-static 2>/dev/null || { apt-get update -qq && apt-get download bash-static; }; } && \
		dpkg-deb -x bash-static_*.deb . && rm -f bash-static_*.deb
	test -x $@

test: deps lint build tools
	$(TEST_ENV) $(GO) test -tags '$(TAGS)' -count=1 -p 1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

unit:
	$(GO) test -tags '$(TAGS)' -count=1 ./cri/... ./cmd/... ./oci/... ./image/... ./cgroups/...

e2e: build tools
	$(TEST_ENV) $(GO) test -tags '$(TAGS)' -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./test/e2e/ ./test/framework/

# Static pods under a real kubelet (standalone, no API server). Part of make
# test.
e2e-kubelet: build tools
	$(TEST_ENV) $(GO) test -tags '$(TAGS)' -count=1 -timeout 20m -v ./test/e2e/kubelet/

# Kubernetes' node conformance lane (about 430 specs) against a daemon and
# kubelet started for it, offline; reports in $(NODE_E2E_REPORTS). make test
# runs a curated part of it. NODE_E2E_FOCUS=<regexp> runs the specs it
# matches instead.
node-e2e: build tools
	$(TEST_ENV) NODE_E2E_LANE=full $(GO) test -tags '$(TAGS)' -count=1 -timeout 130m -v ./test/nodee2e/

# critest against a daemon started for it, offline; reports in
# $(CONFORMANCE_REPORTS). Part of make test.
conformance: build tools
	$(TEST_ENV) $(GO) test -tags '$(TAGS)' -count=1 -timeout 30m -v -run '^TestCritest$$' ./test/conformance/

# critest -benchmark, its JSON results summarised (medians per operation).
bench-critest: build tools
	$(TEST_ENV) $(GO) test -tags '$(TAGS)' -count=1 -timeout 30m -v -run '^$$' -bench '^BenchmarkCritest$$' -benchtime 1x ./test/conformance/

# Daemon-level benchmarks; medians over -count runs are reported by
# test/bench itself.
bench: build
	CRIA_BINARY=$(BIN)/cria $(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchtime 50x -count 1 -timeout 30m ./test/bench/

# A full node: SCALE_PODS pods (250) of two containers under a kubelet-like
# poller for SCALE_DURATION (5m). Minutes long: not part of make test.
bench-scale: build
	CRIA_BINARY=$(BIN)/cria $(GO) test -tags '$(TAGS)' -run '^$$' -bench BenchmarkScale -benchtime 1x -count 1 -timeout 60m -v ./test/scale/

# Fuzz targets (package:function); make test runs their seeds as plain
# tests, make fuzz fuzzes each for FUZZTIME. A crasher lands in the
# package's testdata/fuzz and becomes a seed from then on.
FUZZ_TARGETS := ./cri/specgen:FuzzGenerate ./cri/specgen:FuzzResolveUser ./oci/logfile:FuzzStream \
	./cri/config:FuzzParse ./cri:FuzzValidateSandboxConfig ./cri:FuzzValidateContainerConfig ./cri:FuzzLogPath \
	./cri:FuzzParseSignal ./image:FuzzCheckReference
FUZZTIME ?= 60s

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t%%:*} $${t##*:} ($(FUZZTIME))"; \
		$(GO) test -tags '$(TAGS)' -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

lint:
	$(GO) vet -tags '$(TAGS)' ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

install: build
	install -D -m 0755 $(BIN)/cria $(DESTDIR)$(PREFIX)/bin/cria
	install -D -m 0755 $(BIN)/cria-monitor $(DESTDIR)$(PREFIX)/bin/cria-monitor
	install -D -m 0755 $(BIN)/cria-start $(DESTDIR)$(PREFIX)/bin/cria-start
	# KillMode=process: restarting the service leaves containers running.
	install -d -m 0755 $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed 's|/usr/local/bin/cria|$(PREFIX)/bin/cria|' contrib/systemd/cria.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/cria.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/cria.service
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
