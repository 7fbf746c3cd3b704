# Everything runs in .venv, created on first use. torch and triton are pinned
# by constraints.txt: torch==2.13.0 is the CPU build on local disk (a looser
# spec pulls CUDA); setup.py itself asks only for torch>=2.13.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# make bench IMAGES=../shared/data/kodak [OUT=results/kodak] [ARGS="--limit 4"]
IMAGES ?=
OUT ?= results/$(notdir $(patsubst %/,%,$(IMAGES)))

# make fuzz [FUZZ_EXAMPLES=34000]: the long decoder fuzz, examples per strategy
# (3 strategies per format version)
FUZZ_EXAMPLES ?= 34000

.PHONY: demo test bench fuzz install clean

install: $(STAMP)

$(STAMP): setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python -m pranc_codec.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@test -n "$(IMAGES)" || { echo "make bench: set IMAGES=DIR, a folder of images (e.g. the Kodak set)"; exit 2; }
	OMP_NUM_THREADS=2 $(BIN)/python -m benchmarks.rd --images $(IMAGES) --out $(OUT) $(ARGS)

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q \
		tests/test_fuzz.py --hypothesis-show-statistics

clean:
	rm -rf $(VENV) demo-output build *.egg-info .pytest_cache
