PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint migrate clean demo browser postgresql bench bench-13m

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dukcapil-bot run

# The offline sandbox: the real bot against the local Bot API server, in a browser.
PORT ?= 8080
DEMO_RESIDENTS ?= 50000
demo: $(STAMP)
	$(BIN)/python -m sandbox --port $(PORT) --count $(DEMO_RESIDENTS)

migrate: $(STAMP)
	$(BIN)/dukcapil-bot migrate

lint: $(STAMP)
	$(BIN)/ruff format --check bot botapi sandbox tests benchmarks
	$(BIN)/ruff check bot botapi sandbox tests benchmarks
	$(BIN)/mypy bot botapi sandbox

# Debian's chromium for tests/sandbox/test_browser.py: nothing to do when it is there; without
# apt-get or root the browser test is skipped (pytest says why) instead of failing.
BROWSER_PACKAGES := chromium fonts-noto-color-emoji
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing $(BROWSER_PACKAGES) for the browser test"; \
	  { apt-get install -y -qq $(BROWSER_PACKAGES) \
	    || { apt-get update -qq && apt-get install -y -qq $(BROWSER_PACKAGES); }; } >/dev/null 2>&1 \
	  || echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "no apt-get or not root: chromium not installed, the browser test will be skipped"; fi

# Debian's postgresql for the tests that start their own throwaway cluster (tests/pg.py): nothing
# to do when initdb and pg_ctl are there (on PATH or under /usr/lib/postgresql); without apt-get or
# root those tests are skipped (pytest says why) instead of failing. No cluster is set up here.
postgresql:
	@if { command -v initdb && command -v pg_ctl; } >/dev/null \
	  || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing postgresql for the PostgreSQL tests"; \
	  { apt-get install -y -qq postgresql \
	    || { apt-get update -qq && apt-get install -y -qq postgresql; }; } >/dev/null 2>&1 \
	  || echo "postgresql could not be installed: the PostgreSQL tests will be skipped"; \
	else echo "no apt-get or not root: postgresql not installed, the PostgreSQL tests will be skipped"; fi

# The engines the end-to-end bot runs on (tests/conftest.py): both, each test once per engine;
# `make test ENGINES=sqlite` for SQLite's only.
ENGINES ?= sqlite,postgresql
# The suite on pytest-xdist's workers, a test file to a worker (its module-scoped fixtures built
# once); TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2
test: lint browser postgresql
	$(BIN)/pytest -q --engines=$(ENGINES) -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Issue 7's benchmarks, one after the other, into benchmarks/RESULTS.md (not part of `make test`:
# about an hour at 1.3 M residents). `make bench BENCH_COUNT=100000` is a quick smoke run. Those
# that take --engine run on SQLite and on a throwaway PostgreSQL cluster of their own (issue 15);
# `make bench BENCH_ENGINES=sqlite` runs SQLite's only.
BENCH_COUNT ?= 1300000
BENCH_ENGINES ?= sqlite postgresql
bench: $(STAMP) postgresql
	$(BIN)/python benchmarks/run_all.py --count $(BENCH_COUNT) --engines $(BENCH_ENGINES)

# Issue 15's figures at 13 M residents on PostgreSQL (the README's sizing table): /cek (with the
# database's size) and a day's planning. The population is built once and cached under
# /tmp/dukcapil-bench (about 19 GB with its linked copy, 10 GB more while a script runs; an hour
# on 2 busy cores); the table goes to /tmp/dukcapil-bench/RESULTS-13M.md, to copy into benchmarks/RESULTS.md.
bench-13m: $(STAMP) postgresql
	$(BIN)/python benchmarks/run_all.py --count 13000000 --engines postgresql \
	  --only check_latency.py reminder_planning.py --out /tmp/dukcapil-bench/RESULTS-13M.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
