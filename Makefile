# Two commands on a fresh machine:  make reproduce  (notebooks, default profile cpu)  and  make test.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PROFILE ?= cpu
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The data root: $ELMO_DATA if set; else ../shared/data when it exists (this workplace); else data/.
ELMO_DATA ?= $(if $(wildcard ../shared/data/SHA256SUMS),$(abspath ../shared/data),$(CURDIR)/data)
export ELMO_DATA
# Elsewhere, point pip at the CPU wheels of torch, e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP_ARGS := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)

.PHONY: venv test reproduce data lab bench clean-runs

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	@echo "==> creating/refreshing $(VENV) from requirements.txt (torch pinned by constraints.txt)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q $(PIP_ARGS) -c constraints.txt -r requirements.txt 2>&1 | { grep -v -E 'Location .* is ignored' || true; }
	@$(PY) -m pip install -q --no-deps -e . 2>&1 | { grep -v -E 'Location .* is ignored' || true; }
	@touch $@

test: venv
	$(PY) -m pytest -q

data: venv
	$(PY) -m elmo.download --full --root "$(ELMO_DATA)"

reproduce: venv
	@test -f "$(ELMO_DATA)/SHA256SUMS" || $(PY) -m elmo.download --root "$(ELMO_DATA)"
	$(PY) -m elmo.notebooks --profile $(PROFILE)

# JupyterLab with the repo's default settings (lab/settings/overrides.json: a double-click opens a
# notebooks/*.py as a notebook); the notebooks run the profile in ELMO_PROFILE (make lab PROFILE=tiny).
lab: venv
	ELMO_PROFILE=$(PROFILE) $(VENV)/bin/jupyter lab --LabApp.app_settings_dir="$(CURDIR)/lab/settings" \
	  $(if $(filter 0,$(shell id -u)),--allow-root,) notebooks/

clean-runs:
	rm -rf runs/$(PROFILE)
