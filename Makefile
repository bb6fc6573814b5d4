# The README's commands: make lab (launch the course) and, in the full repository, make test (run
# every test). Both create .venv with the course installed when it is missing or out of date.
# Without make (Windows, conda): the README's "Without make" section gives the same steps.
PYTHON  ?= python3
VENV    ?= .venv
PORT    ?= 8888
WORKDIR ?= work
LAB_ARGS ?=
OUT     ?= ../delivery-semantics-learners
SITE    ?= _site
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed

.PHONY: lab test bench exercises check-exercises learner-copy site lock check-lock labextension clean

# .venv: exactly the versions of the lock (requirements/dev.txt: the versions CI tests, which
# learners get too), then the course itself, editable.
$(STAMP): pyproject.toml requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed (%s is %s). Pick another interpreter: make lab PYTHON=python3.12 (or the full path of one)" % (sys.executable, sys.version.split()[0]))'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	$(BIN)/python scripts/jupyter_settings.py
	@touch $(STAMP)

## make lab: JupyterLab on your working copy (work/) of the lessons and exercises, on 127.0.0.1 with a
## fresh token; prints the URL of lesson 00 (PORT=... for another port, WORKDIR=... another copy)
lab: $(STAMP)
	$(BIN)/python scripts/launch_lab.py --port $(PORT) --workdir $(WORKDIR) $(LAB_ARGS)

## make test: the whole suite (library, notebooks with nbval and papermill, exercises, nbgrader, labs,
## the learner copy, a non-editable install, the site, browsers)
test: $(STAMP)
	$(BIN)/python -m pytest

## make bench: throughput and latency figures, printed with ratios (not part of the tests)
bench: $(STAMP)
	$(BIN)/python bench/run.py

## make exercises: regenerate exercises/ and nbgrader/source/ from solutions/ (the single source)
exercises: $(STAMP)
	$(BIN)/python scripts/make_exercises.py

## make check-exercises: fail if exercises/ or nbgrader/source/ differs from what solutions/ generates
check-exercises: $(STAMP)
	$(BIN)/python scripts/make_exercises.py --check

## make learner-copy: the course as learners get it (no solutions, no tests, no nbgrader source), a
## git repository in OUT ready to push (OUT=../delivery-semantics-learners by default; FORCE=1 replaces it)
learner-copy: $(STAMP)
	$(BIN)/python scripts/make_learner_copy.py $(OUT) $(if $(FORCE),--force,)

## make site: the static website in _site/ (every notebook executed at build time)
site: $(STAMP)
	$(BIN)/python scripts/build_site.py --out $(SITE)

## make lock: lock requirements/*.txt for a class date (DATE=YYYY-MM-DD, default today)
lock: $(STAMP)
	$(BIN)/python scripts/lock.py $(if $(DATE),--date $(DATE),)

## make check-lock: fail if requirements/ is not what pyproject.toml resolves to for its class date
check-lock: $(STAMP)
	$(BIN)/python scripts/lock.py --check

## make labextension: rebuild the slider-names extension (labextension/ -> jupyter-config/labextension/;
## needs Node.js 18+) and install it into .venv
labextension: $(STAMP)
	cd labextension && npm install --no-audit --no-fund && npm run build
	$(BIN)/python scripts/jupyter_settings.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis $(SITE)
