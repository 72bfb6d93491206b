# coffer's build. The README's two set-up commands are `make run` and
# `make test`; everything else here serves them.

SHELL      := /bin/bash
GO         ?= go
BIN        := $(CURDIR)/bin
TOOLS      := $(CURDIR)/.cache/bin
VERSITYGW  := $(TOOLS)/versitygw
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -X main.version=$(VERSION)
# Debian packages the tests and benchmarks drive for real.
DEB_PKGS   := fuse3 rsync tar attr acl postgresql gocryptfs restic rclone psmisc curl
TEST_FLAGS ?= -timeout 25m

.PHONY: build test unit e2e run bench bench-scale deps versitygw fuzz vet clean

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/coffer ./cmd/coffer

# deps installs what a fresh Debian machine lacks. It needs root.
deps:
	@missing=""; \
	for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

versitygw: $(VERSITYGW)
$(VERSITYGW):
	@mkdir -p $(TOOLS)
	@echo "building versitygw (S3 test server, about two minutes the first time)"
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@v1.8.0

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }

# Test runs show each package's result, every failure and data race, and
# the lines that prove the S3 conformance suite ran against a real
# versitygw; the full verbose log of each run goes to .cache/NAME.log.
# $(call gotest,NAME,ARGS) runs `go test ARGS` that way.
TEST_ENV   := COFFER_BIN=$(BIN)/coffer COFFER_VERSITYGW=$(VERSITYGW)
define gotest
	@mkdir -p .cache
	@echo "== $(1): go test, full log in .cache/$(1).log"
	@$(TEST_ENV) $(GO) test $(TEST_FLAGS) -v -count=1 $(2) 2>&1 | tee .cache/$(1).log | \
		grep --line-buffered -E '^(ok|FAIL|panic:)|--- FAIL|WARNING: DATA RACE|conformance suite against'; \
	status=$${PIPESTATUS[0]}; \
	if [ $$status -ne 0 ]; then \
		echo "== failures (full log: .cache/$(1).log)"; \
		grep -B 3 -A 40 -E -- '--- FAIL|^panic:|WARNING: DATA RACE' .cache/$(1).log | head -400; \
	fi; \
	exit $$status
endef
# Every package but the end-to-end suite in ./tests.
UNIT_PKGS   = $(shell $(GO) list ./... | grep -v '^coffer/tests$$')

# test runs every test: the in-process FUSE tests of fs under the race
# detector, then unit, conformance (memory, local, versitygw) and the
# end-to-end suite that mounts the real binary.
test: deps versitygw build vet
	$(call gotest,test-fs-race,-race ./fs/)
	$(call gotest,test,-p 2 ./...)

# unit runs every test but the end-to-end suite (the S3 conformance suite
# included, against versitygw).
unit: versitygw build
	$(call gotest,unit,-p 2 $(UNIT_PKGS))

# e2e runs only the end-to-end suite against the real binary.
e2e: deps versitygw build
	$(call gotest,e2e,./tests/)

# fuzz runs every fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

run: build
	@./scripts/run.sh $(BIN)/coffer

# bench prints one table of figures with their targets (docs/BENCHMARKS.md);
# BENCH_FLAGS passes flags (go run ./bench -help lists them, e.g. -quick).
# bench-scale runs the scale benchmark on SCALE generated small files.
BENCH_FLAGS ?=
SCALE       ?= 1000000
BENCH_ENV   := COFFER_BIN=$(BIN)/coffer COFFER_VERSITYGW=$(VERSITYGW)
bench: deps versitygw build
	@$(BENCH_ENV) $(GO) run ./bench $(BENCH_FLAGS)

bench-scale: deps build
	@$(BENCH_ENV) $(GO) run ./bench -scale $(SCALE) $(BENCH_FLAGS)

clean:
	rm -rf $(BIN)
