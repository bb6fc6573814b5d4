# The two README commands:  make lab  (launch the course)  and  make test  (run every test).
# Both create .venv with the course installed when it is missing or out of date.
PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8888
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: lab test bench exercises check-exercises clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	$(BIN)/python scripts/jupyter_settings.py
	@touch $(STAMP)

## make lab: launch JupyterLab on the course, on 127.0.0.1 with a fresh token (PORT=... to choose the port)
lab: $(STAMP)
	$(BIN)/python scripts/launch_lab.py --port $(PORT)

## make test: the whole suite (library, notebooks with nbval and papermill, exercises, labs, browser)
test: $(STAMP)
	$(BIN)/python -m pytest

## make bench: throughput and latency figures, printed with ratios (not part of the tests)
bench: $(STAMP)
	$(BIN)/python bench/run.py

## make exercises: regenerate exercises/ from solutions/ (the single source)
exercises: $(STAMP)
	$(BIN)/python scripts/make_exercises.py

## make check-exercises: fail if exercises/ differs from what solutions/ generates
check-exercises: $(STAMP)
	$(BIN)/python scripts/make_exercises.py --check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
