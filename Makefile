# The clinic assistant. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
RASA    := $(VENV)/bin/rasa
RUFF    := $(VENV)/bin/ruff
MYPY    := $(VENV)/bin/mypy
STAMP   := $(VENV)/.installed
SPACY_MODEL := build/spacy_clinic
MODEL_STAMP := models/.trained
KNOWLEDGE := $(wildcard knowledge/*.yml)
# The code the spaCy pipeline is built from (the rest of clinic/nlu/ runs at prediction time).
NLU_BUILD := clinic/nlu/spacy_build.py clinic/nlu/shapes.py
TRAIN_INPUTS := config.yml domain.yml $(wildcard data/*.yml data/**/*.yml) $(KNOWLEDGE) \
                $(NLU_BUILD) $(wildcard clinic/rasa/components/*.py) $(SPACY_MODEL)/meta.json

# Python 3.10 (Rasa 3.6 does not install on 3.11): python3.10 on PATH, else pyenv's.
PYTHON310 := $(shell for p in python3.10 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -n1); do \
                 "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

.PHONY: help
help:
	@echo "make run       install, build, train if needed, start the assistant (Ctrl-C stops)"
	@echo "make test      install, validate data, pytest, train, test stories (what CI runs)"
	@echo "make typecheck mypy: strict on clinic/, checked on actions/ (pyproject.toml)"
	@echo "make calendar-server  the local CalDAV server's own virtualenv (var/radicale-venv)"
	@echo "make train     build the spaCy pipeline and train the model if inputs changed"
	@echo "make domain    write domain.yml's responses from knowledge/messages.yml"
	@echo "make evaluate  real patient questions (whole assistant) and NLU cross-validation"
	@echo "make bench     performance benchmark against a stock 'rasa init' assistant"
	@echo "make bench-console  staff console page load times with 10,000 conversations"
	@echo "make cluster   PostgreSQL, Redis, 2 Rasa replicas, 2 action servers and HAProxy on :8080"
	@echo "make bench-cluster  the cluster against the stock assistant"

$(STAMP): requirements.lock pyproject.toml tools/clinic_rasa_patches.pth
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (Rasa 3.6.21 does not install on 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip --version | grep -q '^pip 24\.0 ' || $(PY) -m pip install --quiet "pip==24.0"
	# Byte-compiled on both cores (compileall -j 0) rather than file by file by pip: 16,000
	# files, 40 s of CPU. Never left to the first import: with PYTHONDONTWRITEBYTECODE set (as
	# in this machine's environment) every process would compile TensorFlow and Rasa again.
	$(PY) -m pip install --quiet --no-compile -r requirements.lock
	$(PY) -m compileall -q -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') >/dev/null
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	cp tools/clinic_rasa_patches.pth $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/
	touch $(STAMP)

.PHONY: install
install: $(STAMP)

# The local CalDAV server (Radicale) lives in its own virtualenv under var/, with its own pins
# (tools/radicale.lock): a separate program whose dependencies never touch the assistant's.
RADICALE_VENV  := var/radicale-venv
RADICALE_STAMP := $(RADICALE_VENV)/.installed
$(RADICALE_STAMP): tools/radicale.lock
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required"; exit 1; }
	test -x $(RADICALE_VENV)/bin/python || $(PYTHON310) -m venv $(RADICALE_VENV)
	$(RADICALE_VENV)/bin/python -m pip install --quiet -r tools/radicale.lock
	touch $@

.PHONY: calendar-server
calendar-server: $(RADICALE_STAMP)

# ---------------------------------------------------------------- build and train
WIDGET_BUNDLE := widget/dist/clinic-chat.js

.PHONY: check-knowledge
check-knowledge: $(STAMP)
	$(PY) -m clinic.knowledge.check

$(SPACY_MODEL)/meta.json: $(STAMP) $(KNOWLEDGE) $(NLU_BUILD)
	$(PY) -m clinic.knowledge.check
	$(PY) -m clinic.nlu.spacy_build --out $(SPACY_MODEL)

# Retrains only when data, config, domain, knowledge or the spaCy pipeline changed.
# Rasa's training cache keys the spaCy pipeline by its path, not its contents, so it is
# cleared before a retrain.
$(MODEL_STAMP): $(STAMP) $(TRAIN_INPUTS) | $(SPACY_MODEL)/meta.json
	rm -rf .rasa/cache
	$(RASA) train --fixed-model-name clinic --out models
	touch $@

.PHONY: train
train: domain.yml $(SPACY_MODEL)/meta.json $(MODEL_STAMP)

# domain.yml's responses are written from knowledge/messages.yml, and the FAQ topics' answers
# from knowledge/topics.yml (clinic/knowledge/domain_build.py).
domain.yml: knowledge/messages.yml clinic/knowledge/messages.py clinic/knowledge/domain_build.py \
		knowledge/topics.yml knowledge/references.yml knowledge/clinic.yml \
		clinic/knowledge/topic_answers.py | $(STAMP)
	$(PY) -m clinic.knowledge.domain_build

.PHONY: domain
domain: $(STAMP)
	$(PY) -m clinic.knowledge.domain_build

$(WIDGET_BUNDLE): widget/package.json widget/package-lock.json $(wildcard widget/src/*)
	cd widget && npm ci --no-audit --no-fund --loglevel=error && npm run build

.PHONY: widget
widget: $(WIDGET_BUNDLE)

# ---------------------------------------------------------------- run
.PHONY: run
run: train widget calendar-server
	$(PY) -m clinic.store.db
	bash tools/run.sh

# ---------------------------------------------------------------- cluster
# The production topology on this machine (dev/cluster/, deploy/haproxy.cfg). Debian's
# PostgreSQL, Redis and HAProxy are installed with apt-get when missing (as root, as on CI);
# they run as plain processes with their data in var/cluster/, not as system services.
CLUSTER_PACKAGES := postgresql redis-server haproxy
.PHONY: cluster-deps
cluster-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1 \
	    || ! command -v haproxy >/dev/null 2>&1; then \
	  echo "Installing Debian's $(CLUSTER_PACKAGES) for the cluster"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    -o DPkg::Lock::Timeout=600 $(CLUSTER_PACKAGES) >/dev/null; fi

.PHONY: cluster
cluster: train widget cluster-deps
	$(PY) -m dev.cluster

# ---------------------------------------------------------------- test
# Debian's Chromium drives the widget's browser test (Playwright's own download fails here).
.PHONY: browser
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

.PHONY: typecheck
typecheck: $(STAMP)
	$(MYPY)

# What CI runs (.ci/run). The checks that take seconds come first (fail fast). Then two jobs
# at once on the two cores: most of the unit tests beside the training (and the widget's
# build). Then the tests that start servers, as two pytest sessions at once (they mostly wait
# on the servers: as one session they used 0.76 of a core): the tests that start servers of
# their own (the clinic calendar's server set, the cluster), then in the same job the test
# conversations, mypy, `rasa data validate` and the rest of the unit tests, beside the
# integration and browser tests that share one set of servers, one Radicale and one staff
# console, the longest job. What runs where balances the two cores. Timings: docs/testing.md.
.PHONY: test
test: $(STAMP) browser cluster-deps calendar-server
	$(PY) -m clinic.knowledge.check
	$(PY) -m clinic.knowledge.domain_build
	$(PY) -m tests.support.story_build
	$(RUFF) check clinic actions tests dev
	@# -o: the venv was made above; the sub-makes do not look at it again.
	$(MAKE) --no-print-directory -o $(STAMP) -j2 --output-sync=target test-unit-first train widget
	$(MAKE) --no-print-directory -o $(STAMP) -j2 --output-sync=target \
	  test-own-servers-then-rest test-shared-servers

# Only the server tests' folders are collected (the whole tree, 5,900 unit tests' modules
# imported then deselected, took 16 s). Together the two sessions run every test of these
# folders with one of these marks.
SERVER_TESTS := -m "integration or browser or cluster"
OWN_SERVERS  := tests/integration/test_integration_visits.py tests/cluster

# The tests that start servers of their own: the server set with the clinic calendar
# configured, then the cluster's, by the real launcher (tests/cluster/conftest.py), which
# starts loading as soon as the tests are collected.
.PHONY: test-own-servers
test-own-servers: train widget cluster-deps calendar-server
	$(PY) -m pytest -q $(SERVER_TESTS) $(OWN_SERVERS)

# The own-servers session ends first (2.5 minutes against 5): its core then runs the rest.
# (Given as more goals of `make -j2`, they took the first free core before the shared
# servers' session, the longest job, had started.)
.PHONY: test-own-servers-then-rest
test-own-servers-then-rest: test-own-servers
	$(MAKE) --no-print-directory -o $(STAMP) test-stories test-static test-unit-later

# The integration and browser tests that share the session's servers. Browser first, in the
# order pytest walks them: they count rows in the console the servers share.
.PHONY: test-shared-servers
test-shared-servers: train widget browser calendar-server
	$(PY) -m pytest -q $(SERVER_TESTS) tests/browser tests/integration \
	  $(patsubst %,--ignore=%,$(filter %.py,$(OWN_SERVERS)))

UNIT_TESTS := -m "not integration and not browser and not cluster"
# make test runs the unit tests in two parts, only to balance the two cores: these (a minute
# of the five) run after the own-servers session instead of beside the training.
UNIT_LATER := tests/unit/rasa

.PHONY: test-unit
test-unit: $(STAMP)
	$(PY) -m pytest -q $(UNIT_TESTS)

.PHONY: test-unit-first test-unit-later
test-unit-first: $(STAMP)
	$(PY) -m pytest -q $(UNIT_TESTS) $(patsubst %,--ignore=%,$(UNIT_LATER))
test-unit-later: $(STAMP)
	$(PY) -m pytest -q $(UNIT_TESTS) $(UNIT_LATER)

# The test conversations (tests/test_*.yml), intents included. Plain `rasa test` also scores
# the training data against itself, which says little and took a minute and a half.
.PHONY: test-model
test-model: test-static train
	$(MAKE) --no-print-directory -o $(STAMP) test-stories

# mypy and the data's own checks.
.PHONY: test-static
test-static: $(STAMP)
	$(MYPY)
	$(RASA) data validate --fail-on-warnings

.PHONY: test-stories
test-stories: $(STAMP)
	$(RASA) test core --e2e --stories tests --fail-on-prediction-errors --no-plot

# ---------------------------------------------------------------- evaluate
# Two figures (docs/nlu-evaluation.md): the whole assistant on the real patient questions of
# tests/eval/real_questions.yml (servers on free loopback ports), then the intent classifier
# alone on 5-fold cross-validation with seeded, repeatable folds.
.PHONY: evaluate
evaluate: train
	@# The scripts import dev/ (the servers and the judge), which the venv does not install.
	PYTHONPATH=. $(PY) tools/evaluate_real.py
	PYTHONPATH=. $(PY) tools/evaluate_real.py tests/eval/fresh_questions.yml results/fresh_questions.json
	$(PY) tools/cross_validate.py --folds 5 --out results/cross-validation
	$(PY) tools/report_f1.py results/cross-validation

.PHONY: bench
bench: train
	$(PY) -m dev.bench.run

.PHONY: bench-console
bench-console: $(STAMP)
	$(PY) -m dev.bench.console

# The cluster (make cluster's topology) against the stock assistant: see README, Deploying.
.PHONY: bench-cluster
bench-cluster: train widget cluster-deps
	$(PY) -m dev.bench.cluster

.PHONY: clean
clean:
	rm -rf models results build .rasa widget/dist
