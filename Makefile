# Two commands: `make demo` and `make test` (which runs `make lint`, ruff, first). Each builds .venv when
# missing or out of date.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PYTHONUNBUFFERED := 1

.PHONY: demo lint test walkthrough .venv clean-venv

# PYTHONWARNINGS: setuptools' notice that an editable install uses a meta path finder (pipelines/ and
# builders/ install under distilled_registry) is information, not a problem: not printed.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "python3 must be 3.10 or newer, found " + sys.version' 
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	PYTHONWARNINGS=ignore::UserWarning $(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[all,test]'
	touch $(STAMP)

.venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/distilled-registry demo --out demo_out --overwrite

lint: $(STAMP)
	$(VENV)/bin/ruff check

# README "Distil your own images": a folder of PNGs -> distill --name -> verify, rerun, tfds.load, export-hf
walkthrough: $(STAMP)
	bash scripts/walkthrough.sh walkthrough_out

# -n auto: one pytest-xdist worker per core, each test file whole in one worker (its fixtures stay its own)
test: $(STAMP) lint
	$(VENV)/bin/python -m pytest -q -n auto --dist worksteal

clean-venv:
	rm -rf $(VENV)
