# Two commands do everything on a fresh machine:
#   make demo   - build a virtualenv, run the hourly rollup DAG against the local Polaris emulator
#   make test   - lint, type-check (on both lines) and run the whole suite on Airflow 3.3.x and
#                 on Airflow 2.11.x
PYTHON ?= python3
VENVS := .venvs
AF3 := $(VENVS)/af3
AF2 := $(VENVS)/af2
AF3_SPEC := apache-airflow>=3.3,<3.4
AF2_SPEC := apache-airflow>=2.11,<2.12
PIP_FLAGS := --disable-pip-version-check -q

.PHONY: test test-af3 test-af2 lint demo bench clean venvs browser

$(AF3)/.installed: pyproject.toml
	$(PYTHON) -m venv $(AF3)
	$(AF3)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(AF3)/bin/pip install $(PIP_FLAGS) "$(AF3_SPEC)" -e ".[dev]"
	touch $@

$(AF2)/.installed: pyproject.toml
	$(PYTHON) -m venv $(AF2)
	$(AF2)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(AF2)/bin/pip install $(PIP_FLAGS) "$(AF2_SPEC)" -e ".[dev]"
	touch $@

venvs: $(AF3)/.installed $(AF2)/.installed

# mypy runs in both venvs: each line resolves _compat's imports differently.
lint: $(AF3)/.installed $(AF2)/.installed
	$(AF3)/bin/ruff check .
	$(AF3)/bin/ruff format --check .
	$(AF3)/bin/mypy
	$(AF2)/bin/mypy

# The browser test (tests/browser, Airflow 3 only) drives Debian's chromium with Playwright; no
# browser is downloaded. Install chromium where it is missing and apt is usable; otherwise the
# test skips and says why. This step never fails the build.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get install -y -q chromium >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
		echo "chromium unavailable: the browser test will skip"

test-af3: $(AF3)/.installed browser
	$(AF3)/bin/python -m pytest -q

test-af2: $(AF2)/.installed
	$(AF2)/bin/python -m pytest -q

test: lint test-af3 test-af2

demo: $(AF3)/.installed
	$(AF3)/bin/python -m airflow_provider_polaris.demo

bench: $(AF3)/.installed
	$(AF3)/bin/python benchmarks/run_all.py

clean:
	rm -rf $(VENVS) .airflow-home
