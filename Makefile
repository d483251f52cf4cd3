# edugate: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
EDUGATE := target/debug/edugate

.PHONY: deps build demo test lint bench conformance certs-dev soak

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace

# Signs a sample SMEV request with the dev certificates and verifies it, tampers with it and shows the rejection.
# The full flow (mock SMEV, gateway, school data) arrives with the protocol work.
demo: build
	@bash scripts/demo.sh

# Formatting, lints and every test, including the differential c14n test against xmllint.
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(CARGO) test --workspace

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The long crash test: 10,000 requests, 50 SIGKILLs of the gateway; ends with `lost=N duplicated=N`.
soak: deps
	EDUGATE_SOAK=1 $(CARGO) test --release --test crash -- --nocapture

bench: deps
	$(CARGO) bench --bench dsig
	$(CARGO) bench --bench outbox

conformance: build
	EDUGATE_BIN=$(EDUGATE) bash ../shared/conformance/run all

certs-dev: deps
	bash certs-dev/make.sh
