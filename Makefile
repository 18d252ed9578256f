# The whole set-up is `make demo` or `make test`: each creates .venv if it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test demo lint bench glyphs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,serve,ray]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/platesearch demo

# Figures go to BENCHMARKS.md; the whole run takes about 35 minutes on 2 cores.
bench: $(STAMP)
	$(PY) benchmarks/localization.py --max-side 512 640
	$(PY) benchmarks/query.py
	$(PY) benchmarks/indexing.py
	$(PY) benchmarks/indexing.py --modes photos --detector-max-side 512
	$(PY) benchmarks/indexing.py --modes photos --rounds 1 --photos 120
	$(PY) benchmarks/scale.py

lint: $(STAMP)
	$(VENV)/bin/ruff check platesearch tests alphabet benchmarks experiments docs

glyphs: $(STAMP)
	$(PY) alphabet/make_glyphs.py

clean:
	rm -rf $(VENV) .pytest_cache demo-output
