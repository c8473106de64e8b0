# Two commands a newcomer needs: `make demo` and `make test`. Everything they need is installed
# here from the package registries; nothing installed by hand is assumed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# Keep CrewAI and OpenTelemetry from waiting on a closed network.
export CREWAI_DISABLE_TELEMETRY ?= true
export OTEL_SDK_DISABLED ?= true
export ANONYMIZED_TELEMETRY ?= False

.PHONY: demo test install lint typecheck unit clean local-model bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The main job end to end; it uses the local model (built and fetched once) unless
# ORCH_MODELS__* routes elsewhere.
demo: install local-model
	$(BIN)/orchestrator demo

lint: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: install
	$(BIN)/mypy

# The local model for the integration tests: builds llama.cpp's llama-server into the user cache
# (~12 minutes once per machine, with progress) and fetches SmolLM2; seconds when cached.
local-model: install
	$(BIN)/orchestrator local-model build
	$(BIN)/orchestrator local-model fetch-model

# pytest exits 5 when it collects no test: that is not a failure of the suite itself.
unit: install local-model
	$(BIN)/pytest -q || [ $$? -eq 5 ]

test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
