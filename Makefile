# The two commands of the README:
#   make course   set up .venv and run the whole course headless (the main job)
#   make test     set up .venv, lint with ruff and run the whole test suite
# and for people and maintainers:
#   make lab      open JupyterLab on the course
#   make sync     write the notebooks' #@save cells into chapter_rnn/
#   make notebooks  re-execute the notebooks and commit their outputs (book's parameters, CPU)
#   make bench    the performance benchmark
#   make test-colab  the widget tests again with Colab's widget stack (.venv-colab; part of `make test`)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COURSE_STAMP := $(VENV)/.course-installed
TEST_STAMP := $(VENV)/.test-installed
# Notebooks cheap enough for nbval to re-execute with their own parameters. The training
# notebook's checked outputs are compared by tests/test_training_full.py's single full run;
# 08, 09 and 11 train for minutes at their defaults and are smoke-run with small parameters.
NBVAL_NOTEBOOKS := $(wildcard notebooks/0[1-6]_*.ipynb) notebooks/10_bptt_by_hand.ipynb
# A second environment with Colab's widget stack (requirements-colab.txt: ipywidgets 7,
# ipykernel 6, the classic Notebook 6.5), in which the widget tests run again; the package goes
# in --no-deps, as the Colab setup cell installs it.
COLAB_VENV := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.colab-installed
COLAB_TESTS := tests/test_dashboard.py tests/test_playground.py tests/test_views.py \
	tests/test_browser_classic.py

.PHONY: setup course lab test test-fast test-colab sync notebooks clean-notebooks bench \
	browser-deps launch-files binder-check course-gpu test-gpu

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(COURSE_STAMP): requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -r requirements.txt -e .
	touch $@

$(TEST_STAMP): requirements-test.txt $(COURSE_STAMP)
	$(PY) -m pip install -r requirements-test.txt
	touch $@

# Built from nothing whenever requirements-colab.txt changes (torch's wheel comes from disk
# where pip has it).
$(COLAB_STAMP): requirements-colab.txt pyproject.toml
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -q -r requirements-colab.txt
	$(COLAB_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

setup: $(COURSE_STAMP)

course: $(COURSE_STAMP)
	$(PY) tools/course.py run

lab: $(COURSE_STAMP)
	$(VENV)/bin/jupyter lab notebooks/

browser-deps: $(TEST_STAMP)
	bash tools/install_browser.sh

# Lint first (ruff: code, tests, tools and the notebooks), then the tests, then the widget
# tests with Colab's widget stack.
test: $(TEST_STAMP) browser-deps $(COLAB_STAMP)
	$(VENV)/bin/ruff check .
	CHAPTER_RNN_HEADLESS=1 $(PY) -m pytest tests --nbval-lax $(NBVAL_NOTEBOOKS)
	CHAPTER_RNN_HEADLESS=1 $(COLAB_VENV)/bin/python -m pytest $(COLAB_TESTS)

test-colab: $(COLAB_STAMP) browser-deps
	CHAPTER_RNN_HEADLESS=1 $(COLAB_VENV)/bin/python -m pytest $(COLAB_TESTS)

# Everything but the full training run and the browser: a minute or two.
test-fast: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	CHAPTER_RNN_HEADLESS=1 $(PY) -m pytest tests -m "not slow and not browser" --nbval-lax $(NBVAL_NOTEBOOKS)

sync: $(COURSE_STAMP)
	$(PY) tools/sync_package.py

notebooks: $(COURSE_STAMP)
	$(PY) tools/course.py commit-outputs --device cpu

clean-notebooks: $(COURSE_STAMP)
	$(PY) tools/course.py clean

bench: $(COURSE_STAMP)
	$(PY) bench/benchmark.py

# Binder badge, Colab badges and setup cells, binder/requirements.txt: from pyproject's URL.
launch-files: $(COURSE_STAMP)
	$(PY) tools/launch.py

# Build a fresh environment from binder/ alone, as repo2docker would, and smoke-run the course.
binder-check:
	bash tools/check_binder.sh

# On a GPU runner: the whole course at full size on CUDA, failing if the book's perplexities
# are missed, then nbval on every notebook's checked (deterministic) cells.
course-gpu: $(COURSE_STAMP)
	$(PY) tools/course.py run --device cuda --check

test-gpu: $(TEST_STAMP) course-gpu
	CHAPTER_RNN_HEADLESS=1 $(PY) -m pytest --nbval-lax notebooks/
