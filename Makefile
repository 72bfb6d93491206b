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

.PHONY: build test unit e2e run bench deps versitygw fuzz vet clean

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

# test runs every test: unit, conformance (memory, local, versitygw) and the
# end-to-end suite that mounts the real binary.
# The full verbose log goes to .cache/test.log; the console shows each
# package's result, every failure, and the lines that prove the S3
# conformance suite ran against a real versitygw.
test: deps versitygw build vet
	@mkdir -p .cache
	COFFER_BIN=$(BIN)/coffer COFFER_VERSITYGW=$(VERSITYGW) \
		$(GO) test $(TEST_FLAGS) -v -count=1 -p 2 ./... 2>&1 | tee .cache/test.log | \
		grep --line-buffered -E '^(ok|FAIL|panic:)|--- FAIL|conformance suite against'; \
	status=$${PIPESTATUS[0]}; \
	if [ $$status -ne 0 ]; then \
		echo "== failures (full log: .cache/test.log)"; \
		grep -B 3 -A 40 -E -- '--- FAIL|^panic:' .cache/test.log | head -400; \
	fi; \
	exit $$status

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

bench: deps versitygw build
	@COFFER_BIN=$(BIN)/coffer COFFER_VERSITYGW=$(VERSITYGW) ./bench/bench.sh

clean:
	rm -rf $(BIN)
