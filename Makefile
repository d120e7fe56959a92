# Every target is a thin wrapper; the README says what each does.
CARGO ?= cargo
BIN := harmony-node-readiness-endpoint
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MUSL_TARGET := x86_64-unknown-linux-musl
# Both CPUs of the release, built by `make static`.
MUSL_TARGETS := x86_64-unknown-linux-musl aarch64-unknown-linux-musl
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
STATIC_BIN := $(TARGET_DIR)/$(MUSL_TARGET)/release/$(BIN)
IMAGE ?= localhost/$(BIN):$(VERSION)
# podman, else buildah, else docker: the first one installed builds the image.
ENGINE ?= $(firstword $(foreach e,podman buildah docker,$(if $(shell command -v $(e) 2>/dev/null),$(e))))
# OCI labels from Cargo.toml's `repository` and `license` (NOASSERTION until set).
IMAGE_SOURCE ?= $(or $(shell sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -n 1),NOASSERTION)
IMAGE_LICENSES ?= $(or $(shell sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n 1),NOASSERTION)

.PHONY: build run test check static image image-archive release bench fuzz clean

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

# Fully static binaries for x86_64 and aarch64 (musl libc, release, LTO,
# stripped): each runs on any Linux of its CPU and in a FROM-scratch image.
# Installs the musl targets and the C (cross) compilers for ring first when
# they are missing (scripts/static-toolchain.sh, called by static-build).
static:
	CARGO="$(CARGO)" ./scripts/static-build $(MUSL_TARGETS)

# The FROM-scratch image (Containerfile) around the static binaries: one
# image per CPU, each built from a context that holds only its binary, under
# one multi-arch OCI image index named $(IMAGE) (podman or buildah manifest).
# Push it: `$(ENGINE) manifest push --all --format oci $(IMAGE) docker://REGISTRY/NAME:TAG`.
image: static
	ENGINE=$(ENGINE) IMAGE=$(IMAGE) VERSION=$(VERSION) SOURCE=$(IMAGE_SOURCE) LICENSES=$(IMAGE_LICENSES) \
		./scripts/image $(TARGET_DIR) $(MUSL_TARGETS)

# A single-CPU image for this host only, as a docker-archive file a node's
# containerd imports (`ctr -n k8s.io images import FILE`) or `podman load`s:
# $(IMAGE_ARCHIVE), image name $(IMAGE).
HOST_MUSL_TARGET := $(shell uname -m)-unknown-linux-musl
IMAGE_ARCHIVE ?= $(TARGET_DIR)/image/$(BIN)-$(VERSION)-$(shell uname -m).tar
image-archive:
	CARGO="$(CARGO)" ./scripts/static-build $(HOST_MUSL_TARGET)
	ENGINE=$(ENGINE) IMAGE=$(IMAGE) VERSION=$(VERSION) SOURCE=$(IMAGE_SOURCE) LICENSES=$(IMAGE_LICENSES) \
		ARCHIVE=$(IMAGE_ARCHIVE) ./scripts/image $(TARGET_DIR) $(HOST_MUSL_TARGET)

# Release files in $(RELEASE_DIR): both static binaries, SHA256SUMS, a
# CycloneDX SBOM and the rendered manifests (kustomize and helm template).
RELEASE_DIR ?= $(TARGET_DIR)/release-$(VERSION)
release: static
	CARGO="$(CARGO)" ./scripts/release $(TARGET_DIR) $(RELEASE_DIR)

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
