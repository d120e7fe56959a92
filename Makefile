# Every target is a thin wrapper; the README says what each does.
CARGO ?= cargo
BIN := harmony-node-readiness-endpoint

.PHONY: build run test check static image bench fuzz clean

build:
	$(CARGO) build --release --bin $(BIN)

run:
	NODE_NAME=$${NODE_NAME:-$$(hostname)} $(CARGO) run --release --bin $(BIN)

# Installs what the end-to-end tests talk to (as root on Debian/Ubuntu; a
# one-line note elsewhere), then runs every test. E2E_REQUIRED=1 (set by
# .ci/run) turns every skipped end-to-end test into a failure.
test:
	./scripts/install-test-deps.sh
	$(CARGO) test --all-targets

check:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --all-targets

# Benchmarks (numbers for the README, not pass/fail tests): reaction time of
# /health to Node changes in the fake API server (BENCH_PROFILE=dev skips
# LTO), then of a real HAProxy marking the server DOWN/UP.
bench:
	./scripts/reaction-bench
	./scripts/lb-reaction

clean:
	$(CARGO) clean
