# edugate: the two commands a new user needs are `make demo` and `make test`.
CARGO ?= cargo
EDUGATE := target/debug/edugate
# Seconds each fuzz target runs under `make fuzz`, and under `make fuzz-smoke` (CI).
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10

.PHONY: deps build demo serve test lint bench conformance certs-dev soak fuzz fuzz-smoke fuzz-seeds school-data

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace

# The whole flow on the embedded default: mock SMEV, the gateway and the bundled school data; the portal looks up
# grades (a linked parent, an unlinked SNILS), applies for enrollment (110) and sees the enrollment arrive (250).
demo: build
	@bash scripts/demo.sh

# Keeps mock SMEV and the gateway running and prints their addresses; Ctrl-C (or SIGTERM to the script) stops both.
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
	$(CARGO) bench --bench metrics
	$(CARGO) bench --bench schema

conformance: build
	EDUGATE_BIN=$(EDUGATE) bash ../shared/conformance/run all

certs-dev: deps
	bash certs-dev/make.sh

# Regenerates the embedded school system's demo data (data/school-demo.json) with the developer tool
# edugate-school-data; the result is byte for byte the same unless the generator changed (tests/school.rs checks).
school-data:
	$(CARGO) run --quiet --bin edugate-school-data -- demo data/school-demo.json

# Every fuzz target (fuzz/fuzz_targets/) in turn for FUZZ_SECONDS each, one process each, with libFuzzer's memory
# and input-size limits (FUZZ_RSS_MB, FUZZ_MAX_LEN); the corpus grows in fuzz/corpus/, logs go to fuzz/logs/, a
# crash stops the run and is kept in fuzz/artifacts/. See docs/fuzzing.md.
fuzz: build
	@bash scripts/install-deps.sh fuzz
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

# The same for FUZZ_SMOKE_SECONDS each, on an unoptimized build (quicker to build): what CI runs after the tests.
fuzz-smoke: build
	@bash scripts/install-deps.sh fuzz
	FUZZ_BUILD=dev bash scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

# Fills fuzz/corpus/ from the curated seeds, ../shared's vectors and samples, and `edugate smev sample`.
fuzz-seeds: build
	bash scripts/fuzz-seeds.sh
