# Two entry points, each installing what it needs into .venv:
#   make book   - build the book (executing every chapter in full mode) into _build/html
#   make test   - run the whole test suite (unit tests, notebooks in smoke mode, browser test)
#   make data   - install Debian's Fashion-MNIST (as root; otherwise it says how)
#   make serve  - serve the built book on http://127.0.0.1:$(PORT)/ (after make book)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test install browser data serve clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser test (the project never downloads a browser of its own).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Debian's chromium (sudo apt-get install chromium) for the browser test"; fi; }

# Debian's Fashion-MNIST (60,000 + 10,000 images, /usr/share/datasets/fashion-mnist) for the
# chapters' accuracy experiments; mobilecnn.data also reads the files from the folder MOBILECNN_DATA names.
data:
	@test -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	  else echo "install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist), or put its four IDX files in a folder and set MOBILECNN_DATA to it"; fi; }

# Chapters run first in parallel (one kernel per core, one thread each) into the execution cache;
# the build then renders them. A chapter that fails there runs again inside the build, which
# shows its traceback and fails.
book: $(STAMP) data
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python tools/execute_notebooks.py || echo "a chapter failed; the build runs it again and shows why"
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/jupyter-book build . -W -n --keep-going

test: $(STAMP) browser data
	TF_CPP_MIN_LOG_LEVEL=2 MOBILECNN_SMOKE=1 MOBILECNN_THREADS=1 $(BIN)/python -m pytest -n 2 -q -p no:cacheprovider tests --nbmake chapters

PORT ?= 8000
serve:
	@test -f _build/html/index.html || { echo "no built book in _build/html: run make book first"; exit 1; }
	@echo "serving the book on http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
