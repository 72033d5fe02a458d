# Entry points: `make demo` writes letters and cost sheets for the shipped inputs, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench bench-smoke soffice qpdf chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kdigital check
	$(BIN)/kdigital letters
	$(BIN)/kdigital costs
	@echo "Die Anschreiben liegen in $(CURDIR)/outputs/letters/, die Kostenblätter in $(CURDIR)/outputs/costs/"

check: $(STAMP)
	$(BIN)/kdigital check

# LibreOffice converts DOCX to PDF; poppler's pdftoppm turns PDFs into pictures for review.
soffice:
	@command -v soffice >/dev/null 2>&1 || { \
	  echo "LibreOffice fehlt: installiere libreoffice-writer-nogui ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    libreoffice-writer-nogui poppler-utils fonts-liberation >/dev/null; }

# Debian's Chromium checks the status page in a real browser.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

test: $(STAMP) soffice chromium
	$(BIN)/python -m pytest -q

bench: $(STAMP) soffice qpdf
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/archive.py

bench-smoke: $(STAMP) qpdf
	$(BIN)/python benchmarks/run.py --smoke
	$(BIN)/python benchmarks/archive.py --smoke

# qpdf's command line is the archive benchmark's reference (the package itself uses pikepdf).
qpdf:
	@command -v qpdf >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends qpdf >/dev/null; }

clean:
	rm -rf outputs benchmarks/work
