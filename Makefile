# The clinic assistant. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
RASA    := $(VENV)/bin/rasa
STAMP   := $(VENV)/.installed
SPACY_MODEL := build/spacy_clinic
MODEL_STAMP := models/.trained
KNOWLEDGE := $(wildcard knowledge/*.yml)
TRAIN_INPUTS := config.yml domain.yml $(wildcard data/*.yml data/**/*.yml) $(KNOWLEDGE) \
                $(wildcard clinic/nlu/*.py) $(SPACY_MODEL)/meta.json

# Python 3.10 (Rasa 3.6 does not install on 3.11): python3.10 on PATH, else pyenv's.
PYTHON310 := $(shell for p in python3.10 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V | tail -n1); do \
                 "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

.PHONY: help
help:
	@echo "make run       install, build, train if needed, start the assistant (Ctrl-C stops)"
	@echo "make test      install, validate data, pytest, train, rasa test (what CI runs)"
	@echo "make train     build the spaCy pipeline and train the model if inputs changed"
	@echo "make evaluate  NLU cross-validation report in results/"
	@echo "make bench     performance benchmark against a stock 'rasa init' assistant"

$(STAMP): requirements.lock pyproject.toml tools/rasa_scan_paths.pth
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (Rasa 3.6.21 does not install on 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	cp tools/rasa_scan_paths.pth $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/
	touch $(STAMP)

.PHONY: install
install: $(STAMP)
