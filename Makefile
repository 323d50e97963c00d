# 社保缴费 — `make run` serves the app with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
SIM_PORT ?= $(shell echo $$(( $(PORT) + 1 )))
# Everything a run writes (settings.env, databases, keys, logs, sockets, the providers' state) goes there.
INSTANCE_PATH ?= $(CURDIR)/instance
# make run-scale: app instances behind nginx.
INSTANCES ?= 2
export HOST PORT SIM_PORT INSTANCE_PATH
FLASK := $(BIN)/flask --app webapp

.PHONY: setup run run-scale test browsers fonts nginx lint sweep page-weight bench bench-batch bench-batch-1m bench-cert bench-import clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/weui/dist/style/weui.min.css static/vendor/
	touch $@

# The gzip copies WhiteNoise serves, made at build time so that a running app writes nothing into the checkout.
static/.compressed: $(BIN)/.installed static/vendor/.installed $(shell find static -type f ! -name '*.gz' ! -name '.*')
	$(BIN)/python -c 'from pathlib import Path; from webapp.static_files import precompress; precompress(Path("static"))'
	touch $@

setup: $(BIN)/.installed static/vendor/.installed static/.compressed fonts

# The CJK font payment certificates are drawn in (a subset is embedded in each PDF): Debian's
# fonts-wqy-microhei, or any TrueType/TTC font named by CJK_FONT_PATH.
CJK_FONT_PATH ?= /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
fonts:
	@if [ ! -f "$(CJK_FONT_PATH)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "payment certificates need a CJK font: sudo apt-get install fonts-wqy-microhei (or set CJK_FONT_PATH)"; fi; \
	fi

# Debian's chromium and a CJK font for the browser tests (the Playwright browser download does not work here);
# poppler-utils (pdftotext, pdftoppm) to read the certificate PDF back.
browsers:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "wenquanyi" \
	    || ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei \
	      poppler-utils >/dev/null; \
	  else echo "browser tests need: sudo apt-get install chromium fonts-wqy-microhei poppler-utils"; fi; \
	fi

# The processes of the Procfile, supervised (webapp/supervisor.py, honcho): the app on PORT, the simulated
# providers on SIM_PORT (a server of their own, as a real provider is another party), the huey job consumer.
# `webapp.instance prepare` writes $(INSTANCE_PATH)/settings.env (what every process and every `flask` command
# reads) and stops here with one line if a setting cannot work. If one process stops, all stop, exit status 1.
run: setup
	@$(BIN)/python -m webapp.instance prepare
	$(FLASK) db upgrade
	$(FLASK) demo seed
	$(FLASK) qr
	@$(BIN)/python -m webapp.supervisor

# The scale setup (docs/deploy.md): nginx on HOST:PORT in front of INSTANCES app instances (ports after SIM_PORT),
# one providers' server, PostgreSQL (DATABASE_URL) and Redis (REDIS_URL: sessions, rate limits, the job queue),
# two job consumers.
run-scale: setup nginx
	@$(BIN)/python -m webapp.instance prepare --scale $(INSTANCES)
	$(FLASK) db upgrade
	$(FLASK) demo seed
	@$(BIN)/python -m webapp.supervisor --scale $(INSTANCES)

# Debian's nginx, the load balancer of make run-scale and tests/scale/.
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else echo "make run-scale and tests/scale need nginx: sudo apt-get install nginx"; fi; \
	fi

test: setup browsers nginx
	$(BIN)/python -m pytest

# ruff, then mypy on webapp/ at the strictness README's "Types" states ([tool.mypy] in pyproject.toml).
lint: setup
	$(BIN)/ruff check webapp tests bench migrations
	$(BIN)/ruff format --check webapp tests bench migrations
	$(BIN)/mypy

# The property sweep (tests/views/test_sweep.py) with 8 000 generated requests instead of CI's 2 200.
sweep: setup
	SWEEP_EXAMPLES=8000 $(BIN)/python -m pytest tests/views/test_sweep.py -q -s

page-weight: setup
	$(BIN)/python bench/page_weight.py

# Issue 12: the page table (A B A B against hello-world, pinned cores, SQLite and PostgreSQL), payments over
# HTTP at concurrency 1/4/16 and the core alone; quick by default (SECONDS_PER_RUN, ROUNDS, PAY_SECONDS …).
bench: setup
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
	  { echo "make bench needs wrk: sudo apt-get install wrk"; exit 1; }
	$(BIN)/python bench/speed.py

# The batch debit of 10 000, 50 000 and 100 000 agreements on PostgreSQL, two workers (its own database);
# SIZES="10000 1000000" for others. Prints debits/s, linearity against the first size and 1M's time beside the goal.
bench-batch: setup
	$(BIN)/python bench/batch_debit.py

# Beijing's scale (issue 21): 10 000 then 1 000 000 agreements (the population's setup alone takes many minutes).
bench-batch-1m: setup
	SIZES="10000 1000000" $(BIN)/python bench/batch_debit.py

# The import pipeline (services/imports.py): a special-items file of 100 000 rows on SQLite and PostgreSQL
# (PG_ADMIN_URL, empty to skip), rows/s beside the goal of 20 000 rows/s.
bench-import: setup
	$(BIN)/python bench/import_bench.py

# Certificate PDF (1 and 3 pages, AES-256) and 记录查验 lookup medians, against baselines of the same run.
bench-cert: setup
	$(BIN)/python bench/cert_bench.py

clean:
	rm -rf $(VENV) node_modules static/vendor static/.compressed
