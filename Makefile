# Two entry points (see README): `make run` (main job on a built-in input) and `make test` (lint, docs, tests).
# Override TORCH on GPU machines, e.g. `make run TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
EXTRAS ?= dev,ray,docs
BIN := $(VENV)/bin
STAMP := $(VENV)/.nasdip-installed

.PHONY: run test lint docs clean

$(STAMP): setup.cfg pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -qq $(TORCH)
	$(BIN)/python -m pip install -qq -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The main job: a small RL search on crops of the built-in photo, then a restoration with the found arch beside
# DIP's own network (nasdip-out/grace_hopper_sr_comparison.png; docs/images/main-job.png is a copy of it).
run: $(STAMP)
	rm -rf nasdip-out/search
	$(BIN)/nasdip search --searcher rl --task sr --scale 4 --budget 6 --iters 150 --crop 64 --width 16 \
		--run-dir nasdip-out/search
	$(BIN)/nasdip restore --task sr --scale 4 --arch nasdip-out/search/best.json --crop 128 --width 32 \
		--iters 400 --compare dip-skip --out nasdip-out

lint: $(STAMP)
	$(BIN)/ruff check .

# The documentation site (docs/_build/html), warnings as errors: a broken link, page or docstring fails.
docs: $(STAMP)
	rm -rf docs/_build
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

test: lint docs
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
