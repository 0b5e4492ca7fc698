# confd — the two commands a newcomer needs are `make run` and `make test`.

GO        ?= go
BIN       := bin/confd
BROWSER   := testdata/browser
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME  ?= 30s
# The end-to-end benchmark's room sizes and any further flags
# (go run ./bench/e2e -h lists them), e.g. E2E_SIZES=10,50,200.
E2E_SIZES ?= 10,50
E2E_FLAGS ?=
E2E_PROFILES ?= bench-profiles

.PHONY: all deps deps-build deps-apt deps-node build run test test-go bench bench-e2e fuzz vet clean

all: build

## deps: install what is missing (apt packages, the browser test's npm packages)
deps: deps-apt deps-node

# apt-install runs the checks in $(1), each of which adds the Debian package
# it names to $$missing when what it provides is missing, and installs those
# (with sudo when not root). A machine may have a tool from elsewhere (Node
# from nodesource, whose npm conflicts with Debian's), so nothing already
# there is installed again.
define apt-install
	@missing=""; \
	$(1) \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

# What building confd needs: cgo's pkg-config and libopus for the audio
# mixer (hraban/opus also links libopusfile). `make run` installs these.
BUILD_CHECKS = \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	pkg-config --exists opus 2>/dev/null || missing="$$missing libopus-dev"; \
	pkg-config --exists opusfile 2>/dev/null || missing="$$missing libopusfile-dev";

# What the tests need besides: Chromium and Node for the browser tests, sipp
# (package sip-tester) for the SIP test, nginx for the reverse proxy test
# and coturn for the external TURN server test (both run on loopback by the
# tests themselves; Debian may also start their services), ffprobe (ffmpeg)
# for the recording tests and redis-server for the cluster tests.
TEST_CHECKS = \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v sipp >/dev/null || missing="$$missing sip-tester"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v turnserver >/dev/null || missing="$$missing coturn"; \
	command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server";

deps-build:
	$(call apt-install,$(BUILD_CHECKS))

deps-apt:
	$(call apt-install,$(BUILD_CHECKS) $(TEST_CHECKS))

deps-node: $(BROWSER)/node_modules/.installed

$(BROWSER)/node_modules/.installed: $(BROWSER)/package.json $(BROWSER)/package-lock.json
	cd $(BROWSER) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## build: compile confd into bin/ (installing what the build needs first)
build: deps-build
	$(GO) build -o $(BIN) ./cmd/confd

## run: build and start confd with its defaults (room 3500 on https://localhost:8443 and http://localhost:8080)
run: build
	./$(BIN) $(if $(CONFIG),-config $(CONFIG))

## test: every test, with the race detector, including the real-browser ones
test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

## bench: the end-to-end benchmark (bench-e2e, below), and forwarder fan-out against pion's TrackLocalStaticRTP, per CPU-second;
## simulcast layer selection against the plain fan-out (CPU per forwarded packet,
## a ratio) and PLIs per 100 layer switches; the mixer's CPU per tick and
## member, encodes per tick, and added latency; CPU per SIP phone leg and SIP
## call set-ups per second; the kernel's own cost per loopback UDP packet, one
## call per packet against one sendmmsg per fan-out round
bench:
	$(GO) test -run '^$$' -bench 'Fanout|SwitchKeyframes' -benchtime 3000x -benchmem ./forwarder/
	$(GO) test -run '^$$' -bench 'Mixer$$' -benchtime 300x -benchmem ./mixer/
	$(GO) test -run '^$$' -bench 'MixerLatency' -benchtime 250x ./mixer/
	$(GO) test -run '^$$' -bench 'PhoneLeg' -benchtime 5x ./dialin/
	$(GO) test -run '^$$' -bench 'CallSetup' -benchtime 200x ./dialin/
	$(GO) run ./bench/sendfloor
	@mkdir -p $(E2E_PROFILES)
	CONFD_STEADY=1 $(GO) test -count=1 -run '^TestSimulcastSteadyUnderLoad$$' -v ./cmd/confd/ >$(E2E_PROFILES)/steady.log 2>&1 || \
		{ grep -E 'steady_test.go|^--- |^FAIL|^ok' $(E2E_PROFILES)/steady.log; exit 1; }
	@grep -E 'steady_test.go|^--- |^ok' $(E2E_PROFILES)/steady.log
	$(MAKE) bench-e2e

## bench-e2e: the real confd binary and a stock pion SFU side by side, driven by
## the same real pion peers over loopback: server CPU per delivered packet (video
## fan-out), per member-second (mixed rooms, 3 talkers), per idle member and per
## WHEP viewer, as ratios, and beside the fan-out and mixed loads their floor (what a
## bare sendmmsg sender pays for the same packets); confd's CPU profiles go to $(E2E_PROFILES)/
bench-e2e: deps-build
	$(GO) run ./bench/e2e -sizes $(E2E_SIZES) -profiles $(E2E_PROFILES) $(E2E_FLAGS)

# FUZZ_TARGETS is every fuzz target in the tree, as DIR:FuzzName. They are
# found rather than listed, so a new one cannot be left out of `make fuzz`.
FUZZ_TARGETS = $(shell grep -rn --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git \
	-E '^func Fuzz[A-Za-z0-9_]*.*testing\.F' . | sed -E 's|^(.*)/[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*).*|\1:\2|' | sort)

define newline


endef

## fuzz: run each fuzz target for FUZZTIME (FUZZ=FuzzName runs one)
fuzz:
	$(foreach t,$(if $(FUZZ),$(filter %:$(FUZZ),$(FUZZ_TARGETS)),$(FUZZ_TARGETS)),$(GO) test -run '^$$' -fuzz '^$(lastword $(subst :, ,$(t)))$$' -fuzztime $(FUZZTIME) $(firstword $(subst :, ,$(t)))/$(newline))

clean:
	rm -rf bin
