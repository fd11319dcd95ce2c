# shim — a conmon-compatible container monitor.
#   make demo    install deps, build, import the test image, run a container under shim via podman
#   make test    install deps, build, unit tests, then integration tests (root: runc + podman)
#   make bench   start latency and idle memory, shim vs the system's conmon
#   make soak    one monitor under a long load: nothing may grow (soak-compare: vs conmon)

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN := bin/shim
# Static binary: no dynamic loader or libc to map and relocate at every start.
CGO_ENABLED ?= 0
COMMIT ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
# -s -w: no symbol table/DWARF (smaller file, slightly less to map at start).
LDFLAGS := -s -w -X github.com/shim-project/shim/cli.commit=$(COMMIT)
BUILDFLAGS := -trimpath -buildvcs=false
# Go 1.26's default collector (Green Tea) touches more memory in a process
# that has never collected: the idle monitor measured 44-65 KiB more
# Private_Dirty with it (docs/memory.md). The monitor's data path allocates
# nothing, so the collector's speed does not matter here.
GOEXPERIMENT ?= nogreenteagc

# podman 4.3 looks for conmon in /usr/libexec/podman/conmon,
# /usr/local/libexec/podman/conmon, /usr/local/lib/podman/conmon, /usr/bin/conmon, ...
# (first that exists wins). Debian ships conmon as /usr/bin/conmon, so
# /usr/local/libexec/podman/conmon takes precedence over it.
PREFIX ?= /usr/local
LIBEXECDIR ?= $(PREFIX)/libexec/podman
INSTALL_PATH := $(DESTDIR)$(LIBEXECDIR)/conmon

TEST_TIMEOUT ?= 30m
# make fuzz: every fuzz target for FUZZTIME; make test runs each briefly.
FUZZTIME ?= 30s
CI_FUZZTIME ?= 2s
INTEGRATION_FLAGS ?= -v
BENCH_N ?= 30
STORM_N ?= 10000

.PHONY: all build deps image test test-unit test-integration vet install uninstall \
	demo bench bench-start bench-mem bench-logs bench-attach soak soak-compare rootfs clean clean-store lint fuzz test-fuzz

all: build

build:
	CGO_ENABLED=$(CGO_ENABLED) GOEXPERIMENT=$(GOEXPERIMENT) $(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/shim
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o bin/shim-exporter ./cmd/shim-exporter

deps:
	hack/install-deps.sh

# The busybox test image in podman's default store (for the demo).
image:
	hack/make-image.sh

rootfs:
	hack/make-rootfs.sh build/rootfs

test: deps build
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-fuzz
	$(MAKE) --no-print-directory test-integration

# Every fuzz target for a few seconds (their seeds also run in test-unit).
test-fuzz:
	GO=$(GO) hack/fuzz.sh $(CI_FUZZTIME)

fuzz:
	GO=$(GO) hack/fuzz.sh $(FUZZTIME)

# Every package's own tests (all but integration/, which needs bin/shim and root).
test-unit:
	@pkgs="$$($(GO) list ./... | grep -v '/integration$$')"; \
	if [ -z "$$pkgs" ]; then echo "test-unit: no packages"; exit 0; fi; \
	echo "$(GO) test -count=1 <$$(echo $$pkgs | wc -w) packages>"; \
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $$pkgs

# Black-box tests of $(BIN) with runc and podman (needs root and hack/install-deps.sh).
test-integration:
	SHIM_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(INTEGRATION_FLAGS) ./integration/

vet:
	$(GO) vet ./...

# gofmt, go vet, and every § in the repository resolving to a section of
# docs/interface.md (internal/specref).
lint:
	@out="$$($$($(GO) env GOROOT)/bin/gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 ./internal/specref/

install: build
	install -D -m 0755 $(BIN) $(INSTALL_PATH)
	@echo "installed $(INSTALL_PATH): podman now uses it (podman info --format '{{.Host.Conmon.Path}}')"

uninstall:
	rm -f $(INSTALL_PATH)

demo: deps build image
	SHIM_BIN=$(CURDIR)/$(BIN) hack/demo.sh

bench: bench-start bench-mem

bench-start: build
	SHIM_BIN=$(CURDIR)/$(BIN) hack/bench-start.sh $(BENCH_N)

bench-mem: build
	SHIM_BIN=$(CURDIR)/$(BIN) hack/bench-mem.sh $(BENCH_N)

# An attach connection storm, side by side (not part of `make bench`).
bench-attach: build
	SHIM_BIN=$(CURDIR)/$(BIN) hack/bench-attach-storm.sh $(STORM_N)

# Nothing grows: one monitor through exec syncs, attach storms, ctl messages,
# a GiB of logs and podman execs (hack/soak.sh; counts via SOAK_*, long at the
# full counts). SOAK_MONITOR=conmon (or a path) soaks another monitor.
SOAK_MONITOR ?= shim
soak: build
	SHIM_BIN=$(CURDIR)/$(BIN) hack/soak.sh $(SOAK_MONITOR)

soak-compare: build
	SHIM_BIN=$(CURDIR)/$(BIN) hack/soak.sh both

# The log path (a few minutes; not part of `make bench`).
bench-logs: build
	SHIM_BIN=$(CURDIR)/$(BIN) hack/bench-logs.sh

clean:
	rm -rf bin build

# Remove the tests' and benchmarks' own podman store (see hack/lib.sh).
clean-store:
	bash -c 'source hack/lib.sh && tpodman rm -a -f -t 0 >/dev/null; tpodman system reset -f'
