# Two commands for a newcomer (Debian/Ubuntu, Python 3.11):
#   make report   set everything up, run every notebook (profile default), write figures + PDF report
#   make test     set everything up, lint (ruff check + ruff format --check), run the test suite
# Other targets: make setup, make system-deps (needs root/sudo), make lab, make smoke, make benchmark,
#   make submission (after make report: one folder per assignment under submission/; names and IDs
#   from submission.toml, see helpers/submission.py), make student (student/NN_name.ipynb).

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= default
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := pandoc texlive-xetex texlive-fonts-recommended texlive-plain-generic fonts-dejavu-core graphviz poppler-utils \
                chromium libtcmalloc-minimal4

.PHONY: report test lint setup system-deps lab smoke benchmark submission student clean

SUBMISSION_CONFIG ?= $(wildcard submission.toml)

report: setup
	$(PY) -m helpers.runner --profile $(PROFILE)

test: setup lint
	env $$($(PY) -m helpers.allocator) $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check

smoke: setup
	$(PY) -m helpers.runner --profile smoke

lab: setup
	env $$($(PY) -m helpers.allocator) JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter $(VENV)/bin/jupyter lab notebooks/

submission: setup
	$(PY) -m helpers.submission --profile $(PROFILE) $(if $(SUBMISSION_CONFIG),--config $(SUBMISSION_CONFIG))

student: setup
	$(PY) -m helpers.student

benchmark: setup
	$(PY) benchmarks/data_pipeline.py
	$(PY) benchmarks/grid_scaling.py

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-extra.txt pyproject.toml
	@command -v xelatex >/dev/null && command -v pandoc >/dev/null && command -v dot >/dev/null || $(MAKE) system-deps
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-extra.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

system-deps:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES)

clean:
	rm -rf runs checkpoints
