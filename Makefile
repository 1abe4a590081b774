# sslkit — every target sets up what it needs. Python 3.11 + pip take torch from the local cache here.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SSLKIT := $(VENV)/bin/sslkit
STAMP := $(VENV)/.sslkit-installed
DEMO_RUN ?= runs/demo-simsiam-fashion-mnist
FMNIST_DIR := /usr/share/datasets/fashion-mnist

.PHONY: setup demo demo-data test test-slow bench lint clean

$(STAMP): pyproject.toml plugins/sslkit-vicreg/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet -e plugins/sslkit-vicreg
	touch $(STAMP)

setup: $(STAMP)

# Fashion-MNIST from Debian's package when apt is usable; otherwise say how to get it.
demo-data:
	@if [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ] || [ -n "$$SSLKIT_DATA" ]; then exit 0; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null; \
	else \
		echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist', or put the four"; \
		echo "IDX files (train-images-idx3-ubyte.gz, ...) in a folder and set SSLKIT_DATA to it."; exit 2; \
	fi

# Pretrain SimSiam on Fashion-MNIST (quick CPU preset), evaluate (kNN, linear probe, k-means clustering),
# export (safetensors + ONNX), and draw the report (loss/kNN curves, PCA of the test features).
demo: setup demo-data
	rm -rf $(DEMO_RUN)
	$(SSLKIT) pretrain simsiam fashion-mnist --preset quick --out $(dir $(DEMO_RUN)) --name $(notdir $(DEMO_RUN))
	$(SSLKIT) eval $(DEMO_RUN) fashion-mnist --protocol knn
	$(SSLKIT) eval $(DEMO_RUN) fashion-mnist --protocol linear --seeds 3
	$(SSLKIT) eval $(DEMO_RUN) fashion-mnist --protocol cluster
	$(SSLKIT) export $(DEMO_RUN) --onnx
	$(SSLKIT) report $(DEMO_RUN) --features fashion-mnist --out $(DEMO_RUN)/report
	@echo "run directory:  $(DEMO_RUN)  (config.json, metrics.jsonl, checkpoints/)"
	@echo "results:        $(DEMO_RUN)/eval/{knn,linear,cluster}.json"
	@echo "exported model: $(DEMO_RUN)/export  (model.safetensors, model.onnx, config.json, README.md)"
	@echo "report:         $(DEMO_RUN)/report/report.md  (loss.png, knn.png, embedding-*.png)"

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: setup
	$(PY) -m pytest -q; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

test-slow: setup
	$(PY) -m pytest -q -m slow; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

# Speed, measured side by side (medians of interleaved rounds; JSON under runs/bench/). On a shared
# machine add BENCH_ARGS="--threads 1 --clock cpu" (per-core CPU time): see docs/benchmarks.md.
bench: setup
	$(PY) benchmarks/step_vs_limit.py $(BENCH_ARGS)
	$(PY) benchmarks/epoch_throughput.py $(BENCH_ARGS)
	$(PY) benchmarks/augment_throughput.py --table

lint: setup
	$(VENV)/bin/ruff check sslkit tests benchmarks plugins

clean:
	rm -rf $(VENV) runs .pytest_cache
