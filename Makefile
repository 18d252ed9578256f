# The whole set-up is `make demo` or `make test`: each creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test demo lint bench glyphs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/platesearch demo

bench: $(STAMP)
	$(PY) benchmarks/localization.py --max-side 640 960
	$(PY) benchmarks/query.py

lint: $(STAMP)
	$(VENV)/bin/ruff check platesearch tests alphabet benchmarks

glyphs: $(STAMP)
	$(PY) alphabet/make_glyphs.py

clean:
	rm -rf $(VENV) .pytest_cache demo-output
