# The two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install bench schema clean

run: install
	$(PYTHON) -m gateway migrate
	$(PYTHON) -m gateway seed --products 200
	$(PYTHON) -m gateway serve

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

install: $(STAMP)

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
	rm -rf $(VENV) var
