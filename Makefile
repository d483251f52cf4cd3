# edugate: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
EDUGATE := target/debug/edugate

.PHONY: deps build demo serve test lint bench conformance certs-dev soak

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace

# The whole flow on the embedded default: mock SMEV, the gateway and the bundled school data; the portal looks up
# grades (a linked parent, an unlinked SNILS), applies for enrollment (110) and sees the enrollment arrive (250).
demo: build
	@bash scripts/demo.sh

# Keeps mock SMEV and the gateway running and prints their addresses.
serve: build
	@bash scripts/demo.sh serve

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
	$(CARGO) bench -p mock-smev --bench exchange
	$(CARGO) bench --bench lookups

conformance: build
	EDUGATE_BIN=$(EDUGATE) bash ../shared/conformance/run all

certs-dev: deps
	bash certs-dev/make.sh
