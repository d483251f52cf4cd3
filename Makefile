# edugate: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
EDUGATE := target/debug/edugate

.PHONY: deps build demo test lint bench conformance certs-dev

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

bench: deps
	$(CARGO) bench --bench dsig

conformance: build
	EDUGATE_BIN=$(EDUGATE) bash ../shared/conformance/run all

certs-dev: deps
	bash certs-dev/make.sh
