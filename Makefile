# kubeface: every target installs what it needs (venv, MariaDB, nsqd/nsqlookupd).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NSQ_BIN := .bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(NSQ_BIN):$(PATH)

.PHONY: load soak help deps venv mariadb nsq k8s-tools buf promtool browser proto run test chaos retry samples check clean \
	bench dlib-openblas cluster cluster-down cluster-images podman image-base image image-test k8s-e2e

help:
	@echo "make run    start the whole mesh on loopback (Ctrl-C stops it)"
	@echo "make test   run the test suite (starts private servers)"
	@echo "make chaos  the fault tests, full length (CHAOS_FULL=1: 30 s recognizer outage, longer streams)"
	@echo "make load   the load test for 5 minutes (figures in test-artifacts/load/summary.json)"
	@echo "make soak   the load test for an hour: every service's RSS over time (rss.csv, rss.png) must stay flat"
	@echo "make samples  sample face photos into IMAGE_ROOT (default images/) for the README walk-through"
	@echo "make retry  one pass of the retry job against the local mesh"
	@echo "make check  ruff lint and format check, mypy strict on kubeface/"
	@echo "make bench  the benchmark suite: report and plots in bench-results/ (BENCH_QUICK=1: ~3 min)"
	@echo "make dlib-openblas  recommended for serving: dlib against OpenBLAS for x86-64-v3 CPUs (~14-20 min once) instead of dlib-bin"
	@echo "make proto  regenerate the gRPC stubs from protos/"
	@echo "make cluster  a one-node Kubernetes on this machine (root; prints its KUBECONFIG); make cluster-down removes it"
	@echo "make cluster-images  build the MariaDB and nsq images with podman and load them into the cluster"
	@echo "make image  the CPU image with podman, kubeface:dev (DLIB=openblas: kubeface:dev-openblas, ~14 min more)"
	@echo "make image-test  build the image, then its smoke tests (non-root, read-only root, each service's health)"
	@echo "make k8s-e2e  the local overlay on a one-node cluster here: rollouts and scaling under load (~3 min on a running cluster, ~25 min from nothing)"

deps: venv mariadb nsq k8s-tools buf promtool

venv: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=24"
	# face_recognition declares `dlib` (a 14-minute compile); dlib-bin, pinned in pyproject, is the same module.
	$(BIN)/pip install -q --no-deps face_recognition==1.3.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

mariadb:
	@command -v mariadbd >/dev/null || command -v /usr/sbin/mariadbd >/dev/null || tools/apt-install.sh mariadb-server mariadb-client

# buf lints the proto and checks it against main for breaking changes.
BUF_VERSION := v1.75.0
buf: $(NSQ_BIN)/buf
$(NSQ_BIN)/buf:
	GOBIN=$(CURDIR)/$(NSQ_BIN) GOFLAGS=-buildvcs=false go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

# promtool (Debian's prometheus package) checks and unit-tests k8s/monitoring/alerts.yaml.
promtool:
	@command -v promtool >/dev/null || tools/apt-install.sh prometheus

nsq: $(NSQ_BIN)/nsqd $(NSQ_BIN)/nsqlookupd
$(NSQ_BIN)/nsqd $(NSQ_BIN)/nsqlookupd: tools/nsq/go.mod tools/nsq/go.sum
	tools/install-nsq.sh $(NSQ_BIN)

# kustomize (the newest, and kubectl 1.30's v5.0.4) and kube-score, for validating k8s/ in the tests.
K8S_TOOLS := $(NSQ_BIN)/kustomize $(NSQ_BIN)/kustomize-v5.0.4 $(NSQ_BIN)/kube-score
k8s-tools: $(K8S_TOOLS)
$(K8S_TOOLS): tools/install-k8s-tools.sh tools/kustomize-v5.0.4/go.mod tools/kustomize-v5.0.4/go.sum
	tools/install-k8s-tools.sh $(NSQ_BIN)

proto: venv
	PATH=$(CURDIR)/$(BIN):$$PATH tools/genproto.sh

run: deps
	@mkdir -p "$${IMAGE_ROOT:-images}" .state
	$(BIN)/honcho start -f Procfile

# The browser tests drive Debian's chromium (Playwright cannot download a browser here) and
# check accessibility with axe-core, unpacked from the npm registry's tarball.
AXE_VERSION := 4.14.1
AXE := .cache/axe-core/package/axe.min.js
browser: $(AXE)
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
$(AXE):
	mkdir -p .cache/axe-core
	cd .cache/axe-core && npm pack -q axe-core@$(AXE_VERSION) >/dev/null && tar -xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js

test: deps browser
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest $(PYTEST_ARGS)

# The fault tests (tests/chaos) at full length; `make test` runs them short (see README, Tests).
chaos: deps
	PATH=$(CURDIR)/$(BIN):$$PATH CHAOS_FULL=1 $(BIN)/python -m pytest tests/chaos -m chaos $(PYTEST_ARGS)

# The load test for 5 minutes at 3 posts/s (`make test` runs it for 20 s); figures go to
# test-artifacts/load/summary.json.
load: deps
	LOAD_SECONDS=300 PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest tests/load -m load $(PYTEST_ARGS)

# The load test for an hour (SOAK_SECONDS), outside `make test` and CI: every service's RSS over
# time goes to test-artifacts/load/rss.csv and rss.png, and its trend must stay flat.
SOAK_SECONDS ?= 3600
soak: deps
	LOAD_SECONDS=$(SOAK_SECONDS) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest tests/load -m load $(PYTEST_ARGS)

retry: venv
	$(BIN)/kubeface retry

# The photos face_recognition 1.3.0 ships in its sdist (from PyPI), plus two_people.jpg.
samples: venv
	$(BIN)/python -m kubeface.samples "$${IMAGE_ROOT:-images}"

# The benchmark suite (bench/): BENCH_OUT/report.md and PNG plots. It starts its own private
# MariaDB, nsqd and services on loopback, like the tests. BENCH_QUICK=1 runs in about 3 minutes.
BENCH_OUT ?= bench-results
bench: deps
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) || echo "wrk not installed: the ingest section skips its wrk runs"
	PATH=$(CURDIR)/$(BIN):$$PATH BENCH_OUT=$(BENCH_OUT) $(BIN)/python -m bench

# dlib 20.0.1 built against OpenBLAS for x86-64-v3 (AVX2, FMA), once (about 14 minutes on 2 cores;
# the wheel is cached in .cache/dlib-openblas-20.0.1-x86-64-v3/, a folder per level), installed in
# place of dlib-bin. Also unpacked in that folder's site/, where `make bench` finds it to compare
# the builds side by side. The recognizer refuses to start on a CPU below the level
# (kubeface/dlib_build.py); DLIB_X86_64_LEVEL=x86-64-v2 builds for older nodes. Tests and CI keep
# dlib-bin; run this again after anything reinstalls the venv.
DLIB_X86_64_LEVEL ?= x86-64-v3
DLIB_OPENBLAS := .cache/dlib-openblas-20.0.1-$(DLIB_X86_64_LEVEL)
dlib-openblas: venv
	DLIB_X86_64_LEVEL=$(DLIB_X86_64_LEVEL) tools/build-dlib-openblas.sh $(DLIB_OPENBLAS)
	$(BIN)/pip install -q --no-deps --upgrade --target $(DLIB_OPENBLAS)/site $(DLIB_OPENBLAS)/dlib-20.0.1+*.whl
	$(BIN)/pip uninstall -q -y dlib-bin dlib
	$(BIN)/pip install -q --no-deps --force-reinstall $(DLIB_OPENBLAS)/dlib-20.0.1+*.whl

check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(NSQ_BIN) .state .cache

# Container images, built with podman from ./Dockerfile (tools/image/). No registry is needed:
# the Python base is made locally from a debootstrapped Debian, once, and passed as PYTHON_IMAGE.
# podman runs with the project's containers.conf (runc, cgroupfs, ulimits within the hard limit).
export CONTAINERS_CONF ?= $(CURDIR)/tools/image/containers.conf
DLIB ?= bin
podman:
	@command -v podman >/dev/null && command -v debootstrap >/dev/null \
		|| tools/apt-install.sh podman buildah runc debootstrap containernetworking-plugins iptables

image-base: podman
	tools/image/build-base.sh

image: image-base
	DLIB=$(DLIB) tools/image/build.sh

# The smoke tests of tests/image against the image just built (KUBEFACE_IMAGE picks another).
image-test: image venv mariadb nsq
	PATH=$(CURDIR)/$(BIN):$$PATH KUBEFACE_IMAGE=$${KUBEFACE_IMAGE:-localhost/kubeface:$(if $(filter openblas,$(DLIB)),dev-openblas,dev)} \
		$(BIN)/python -m pytest tests/image -m image $(PYTEST_ARGS)

# A one-node Kubernetes v1.31.4 on this machine (root), built from the Go module proxy once into
# .cache/kubernetes-v1.31.4/; state, PIDs and logs in .state/cluster/ (tools/cluster/).
cluster:
	tools/cluster/up.sh
cluster-down:
	tools/cluster/down.sh
# MariaDB (Debian's 10.11) and nsq (the project's build) images, which no registry serves here.
cluster-images:
	tools/cluster/images.sh

# The local overlay on a real one-node cluster: cluster, images, deploy, then every service rolled
# and the processors scaled under a stream of posts (tests/k8s_e2e). Not part of `make test`.
k8s-e2e: venv
	PYTEST_ARGS="$(PYTEST_ARGS)" tools/k8s-e2e.sh
