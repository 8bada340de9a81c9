# The two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# graphql-http's GraphQL-over-HTTP audit, run by tests/test_http_audit.py (Node, pinned by the lock file).
AUDIT := tests/http_audit
# GraphQL Code Generator and TypeScript, run by tests/test_schema_codegen.py (Node, pinned by the lock file).
CODEGEN := tests/codegen
# GraphiQL's page and files, built by Vite from the npm packages pinned in graphiql/package-lock.json
# into the gateway's package, which serves them itself (no CDN at run time).
GRAPHIQL := graphiql
GRAPHIQL_BUILD := gateway/static/graphiql/index.html

.PHONY: run test test-fast check install audit-deps codegen-deps graphiql bench schema clean

# Logs for a person at a terminal unless LOG_FORMAT says otherwise (servers default to JSON).
run: install graphiql
	$(PYTHON) -m gateway migrate
	$(PYTHON) -m gateway seed --products 200
	LOG_FORMAT=$${LOG_FORMAT:-text} $(PYTHON) -m gateway serve

# pytest-xdist workers: one per core by default (`make test PYTEST_WORKERS=0` runs in one process).
PYTEST_WORKERS ?= auto

test: install audit-deps codegen-deps graphiql
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The same suite without the tests marked `slow` (multi-process, fault drills, hostile-input fuzzing).
.PHONY: test-fast
test-fast: install audit-deps codegen-deps graphiql
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

# Compiled modules are kept for the tests even where the environment says not to write them
# (container images often set PYTHONDONTWRITEBYTECODE=1): pytest keeps its rewritten test modules
# there, and every process a test starts (uvicorn workers, the CLI) imports the project again.
test test-fast: export PYTHONDONTWRITEBYTECODE :=

# The quality gate CI runs before the tests: lint, formatting and strict types.
check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

install: $(STAMP)

# Without Node the audit test skips (or fails under REQUIRE_SERVICES=1); npm ci only reruns when
# the lock file is newer than what it installed.
audit-deps:
	@if command -v npm >/dev/null 2>&1; then \
		test $(AUDIT)/node_modules/.package-lock.json -nt $(AUDIT)/package-lock.json \
			|| (cd $(AUDIT) && npm ci --no-audit --no-fund --loglevel=error); \
	else \
		echo "node/npm not found: the GraphQL-over-HTTP audit (tests/test_http_audit.py) will be skipped"; \
	fi

# The same for the code generator's check (tests/test_schema_codegen.py skips without it).
codegen-deps:
	@if command -v npm >/dev/null 2>&1; then \
		test $(CODEGEN)/node_modules/.package-lock.json -nt $(CODEGEN)/package-lock.json \
			|| (cd $(CODEGEN) && npm ci --no-audit --no-fund --loglevel=error); \
	else \
		echo "node/npm not found: the code generator's check (tests/test_schema_codegen.py) will be skipped"; \
	fi

# Without Node the page at /graphql says how to build it, and the browser test skips (or fails under
# REQUIRE_SERVICES=1). Rebuilt only when the lock file or the page's sources are newer than the build.
graphiql:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(GRAPHIQL_BUILD); \
	else \
		echo "node/npm not found: GraphiQL is not built (tests/test_graphiql_browser.py will be skipped)"; \
	fi

$(GRAPHIQL_BUILD): $(GRAPHIQL)/package-lock.json $(GRAPHIQL)/vite.config.js $(GRAPHIQL)/index.html $(wildcard $(GRAPHIQL)/src/*)
	test $(GRAPHIQL)/node_modules/.package-lock.json -nt $(GRAPHIQL)/package-lock.json \
		|| (cd $(GRAPHIQL) && npm ci --no-audit --no-fund --loglevel=error)
	cd $(GRAPHIQL) && npm run --silent build -- --logLevel warn

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

bench: install
	$(PYTHON) -m bench

schema: install
	$(PYTHON) -m gateway export-schema

clean:
	rm -rf $(VENV) var $(AUDIT)/node_modules $(CODEGEN)/node_modules $(GRAPHIQL)/node_modules gateway/static/graphiql
