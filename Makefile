# dubclr: `make demo` runs the main job on the bundled synthetic corpus, `make test` the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= runs/demo
STUDY_DIR ?= runs/study

.PHONY: setup demo study test lint bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	@PYTHONUNBUFFERED=1 bash scripts/demo.sh $(DEMO_DIR)

# the controlled study (docs/study.md): EN vs EFJ vs SEP, 3 seeds, 400 steps from shards; STUDY_ARGS="--steps 900"
study: setup
	@PYTHONUNBUFFERED=1 $(PY) -m dubclr bench study --out $(STUDY_DIR) $(STUDY_ARGS)

test: setup
	@$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: setup
	@$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	@$(PY) benchmarks/bench_models.py && $(PY) benchmarks/bench_window_decode.py

clean:
	rm -rf runs .pytest_cache
