# kubeface: every target installs what it needs (venv, MariaDB, nsqd/nsqlookupd).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NSQ_BIN := .bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(NSQ_BIN):$(PATH)

.PHONY: help deps venv mariadb nsq k8s-tools proto run test retry check clean

help:
	@echo "make run    start the whole mesh on loopback (Ctrl-C stops it)"
	@echo "make test   run the test suite (starts private servers)"
	@echo "make retry  one pass of the retry job against the local mesh"
	@echo "make check  ruff lint and format check"
	@echo "make proto  regenerate the gRPC stubs from protos/"

deps: venv mariadb nsq k8s-tools

venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=24"
	# face_recognition declares `dlib` (a 14-minute compile); dlib-bin, pinned in pyproject, is the same module.
	$(BIN)/pip install -q --no-deps face_recognition==1.3.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

mariadb:
	@command -v mariadbd >/dev/null || command -v /usr/sbin/mariadbd >/dev/null || tools/install-mariadb.sh

nsq: $(NSQ_BIN)/nsqd $(NSQ_BIN)/nsqlookupd
$(NSQ_BIN)/nsqd $(NSQ_BIN)/nsqlookupd: tools/nsq/go.mod tools/nsq/go.sum
	tools/install-nsq.sh $(NSQ_BIN)

# kustomize and kube-score, for validating k8s/ in the tests.
K8S_TOOLS := $(NSQ_BIN)/kustomize $(NSQ_BIN)/kube-score
k8s-tools: $(K8S_TOOLS)
$(K8S_TOOLS): tools/install-k8s-tools.sh
	tools/install-k8s-tools.sh $(NSQ_BIN)

proto: venv
	PATH=$(CURDIR)/$(BIN):$$PATH tools/genproto.sh

run: deps
	@mkdir -p "$${IMAGE_ROOT:-images}" .state
	$(BIN)/honcho start -f Procfile

test: deps
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest $(PYTEST_ARGS)

retry: venv
	$(BIN)/kubeface retry

check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(NSQ_BIN) .state .cache
