# sparkeo: `make demo` runs the main job on the bundled sample, `make test` runs the suite.
# `make cluster-demo` walks the cluster commands' lifecycle without a cluster.
# All set up everything they need on a fresh machine (venv, pinned Python packages, Debian services).

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
SAMPLE ?= build/sample
DEMO_OUT ?= results/demo

.PHONY: demo serve cluster-demo test venv services clean bench image

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@command -v java >/dev/null || bash scripts/install-debian.sh default-jre-headless
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

services:
	bash scripts/install-debian.sh zookeeper s3fs fuse3 prometheus prometheus-pushgateway openjdk-17-jdk-headless \
		postgresql-15 postgresql-15-postgis-3 buildah debootstrap

demo: venv
	$(BIN)/sparkeo sample-data $(SAMPLE)
	$(BIN)/sparkeo run examples/ndvi_median.json --catalog $(SAMPLE)/layercatalog.json \
		--output $(DEMO_OUT) --job-id demo-ndvi-median

# The cluster commands on one machine: ZooKeeper, the test Kubernetes API and its operator loop;
# submit the sample job, track it, list/status/jobs show, cancel (sparkeo/testing/demo.py).
cluster-demo: venv services
	$(BIN)/python -m sparkeo.testing.demo --workdir build/cluster-demo

# the openEO API on 127.0.0.1:8080, local mode, user demo/demo, the demo's sample catalog (Ctrl-C stops it)
serve: venv
	SAMPLE=$(SAMPLE) BIN=$(BIN) bash scripts/serve-local.sh

# the image (docker/Dockerfile) built with buildah on a debootstrap bookworm base, cached under
# build/image/, then its entrypoint's driver run on a sample job (scripts/build-image.sh; needs root)
image: venv
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/build-image.sh

test: venv services
	$(BIN)/python -m pytest -q tests

bench: venv
	$(BIN)/python bench/composite.py

clean:
	rm -rf build results .pytest_cache
