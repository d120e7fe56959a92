# Every target is a thin wrapper; the README says what each does.
CARGO ?= cargo
BIN := harmony-node-readiness-endpoint
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MUSL_TARGET := x86_64-unknown-linux-musl
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
STATIC_BIN := $(TARGET_DIR)/$(MUSL_TARGET)/release/$(BIN)
IMAGE ?= localhost/$(BIN):$(VERSION)
# podman, else buildah, else docker: the first one installed builds the image.
ENGINE ?= $(firstword $(foreach e,podman buildah docker,$(if $(shell command -v $(e) 2>/dev/null),$(e))))
# OCI labels from Cargo.toml's `repository` and `license` (NOASSERTION until set).
IMAGE_SOURCE ?= $(or $(shell sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -n 1),NOASSERTION)
IMAGE_LICENSES ?= $(or $(shell sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n 1),NOASSERTION)

.PHONY: build run test check static image bench fuzz clean

build:
	$(CARGO) build --release --bin $(BIN)

run:
	$(CARGO) run --release --bin $(BIN)

# Installs what the end-to-end tests talk to (as root on Debian/Ubuntu; a
# one-line note elsewhere), then runs every test. E2E_REQUIRED=1 (set by
# .ci/run) turns every skipped end-to-end test into a failure. As root it
# also builds the real cluster's binaries (scripts/cluster build: minutes the
# first time on a machine, nothing once cached) for tests/real_cluster.rs.
test:
	./scripts/install-test-deps.sh
	if [ "$$(id -u)" = 0 ]; then ./scripts/cluster build; fi
	$(CARGO) test --all-targets

check:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --all-targets

# Fully static x86_64 binary (musl libc, release, LTO, stripped): runs on any
# x86_64 Linux and in a FROM-scratch image. Installs the musl target and
# musl-tools first when they are missing (scripts/static-toolchain.sh).
static:
	./scripts/static-toolchain.sh
	$(CARGO) build --release --target $(MUSL_TARGET) --bin $(BIN)
	@echo "static binary: $(STATIC_BIN) ($$(stat -c %s $(STATIC_BIN)) bytes)"

# The FROM-scratch image (Containerfile) around the static binary, built from
# a context that holds only that binary.
image: static
	@test -n "$(ENGINE)" || { echo "make image: install podman or buildah (Debian packages)" >&2; exit 1; }
	rm -rf $(TARGET_DIR)/image-context && mkdir -p $(TARGET_DIR)/image-context
	cp $(STATIC_BIN) $(TARGET_DIR)/image-context/$(BIN)
	$(if $(filter buildah,$(ENGINE)),buildah bud,$(ENGINE) build) -f Containerfile -t $(IMAGE) \
		--build-arg BINARY=$(BIN) --build-arg VERSION=$(VERSION) \
		--build-arg SOURCE=$(IMAGE_SOURCE) --build-arg LICENSES=$(IMAGE_LICENSES) \
		$(TARGET_DIR)/image-context

# Every cargo-fuzz target for FUZZ_SECONDS (default 60) each; see scripts/fuzz.
fuzz:
	./scripts/fuzz

# Benchmarks (numbers for the README, not pass/fail tests): /health next to
# nginx, reaction time to Node changes in the fake API server (scripts/bench
# runs scripts/reaction-bench), API cost, RSS, sizes, start time; then a real
# HAProxy marking the server DOWN/UP (scripts/lb-reaction).
bench:
	./scripts/bench
	./scripts/lb-reaction

clean:
	$(CARGO) clean
