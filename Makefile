# Two entry points for a new user: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= all
CONFIG ?= config.yaml
# Settings over the config, dotted: make run SET="train.max_updates=500 decode.beam=5"; quote a value
# that holds spaces: SET="experiment=demo2 train.adam_betas='[0.9, 0.99]'". WITH_SET puts them in
# the recipe shell's "$@" as Snakemake's --config arguments, and stops the recipe on a malformed
# one (a $(shell ...) would drop the parser's exit status and run the config without them).
SET    ?=
WITH_SET = $(if $(strip $(SET)),args=$$($(BIN)/python -m neuralloc.config $(SET)) || exit 2; eval "set -- --config $$args";) set -x;
# Stamp file: reinstall only when the pins or the package metadata change.
STAMP  := $(VENV)/.installed

.PHONY: install run dry-run plan test test-slurm lint report gpu-rehearsal clean-venv

install: $(STAMP)

$(STAMP): requirements.txt requirements/*.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s); set PYTHON=/path/to/python3.11" % sys.version.split()[0])'
	@echo "== creating $(VENV) with $$($(PYTHON) --version)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "== installing the pinned packages of requirements/ (runtime, workflow, cluster, test): PyTorch is the"
	@echo "   largest; where pip takes its CUDA build (Linux with a GPU) that is several GB, and minutes"
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	@echo "== installing the neuralloc package (editable)"
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@echo "== installed: $$($(BIN)/python -c 'import torch; print("torch", torch.__version__, "CUDA" if torch.cuda.is_available() else "CPU")')"
	touch $@

run: $(STAMP)
	@$(WITH_SET) $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) "$$@"

# What CONFIG (with SET) will train, the disk its models take and GPU-hours at an assumed throughput
plan: $(STAMP)
	$(BIN)/python -m neuralloc.plan $(CONFIG) $(SET)

dry-run: $(STAMP)
	@$(WITH_SET) $(BIN)/snakemake -n --cores $(CORES) --configfile $(CONFIG) "$$@"

# One pytest worker per core (pytest-xdist), each test file on one worker (its module fixtures,
# such as the workflow's end-to-end run, are built once); one PyTorch thread per worker, as the
# workers already fill the cores (two threads each made the suite slower on 2 cores: 8:39 vs 7:02).
test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --maxprocesses 8 --dist loadfile tests

# The workflow through a real, throwaway two-node SLURM on this machine (root: installs Debian's slurm
# and munge). Two tests at a time: they mostly wait on SLURM's scheduling and status checks.
test-slurm: $(STAMP)
	bash tests/slurm/cluster.sh $(BIN)/python -m pytest -q -n 2 --dist load tests/slurm

lint: $(STAMP)
	$(BIN)/snakemake --lint --configfile $(CONFIG)

report: $(STAMP)
	@$(WITH_SET) $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report report.html "$$@"

# bench/gpu_check.sh as a lent GPU runs it, here on the CPU: the demo's data, tiny sizes (a few minutes)
REHEARSAL := results/gpu-rehearsal
gpu-rehearsal: $(STAMP)
	CARRY=$(REHEARSAL)/carry M2M_CONFIG=config.yaml M2M_EXP=results/bible-demo bash bench/gpu_check.sh prepare
	PY=$(abspath $(BIN)/python) CARRY=$(REHEARSAL)/carry OUT=$(abspath $(REHEARSAL))/out BUDGET_S=1500 \
	  M2M_CONFIG=config.yaml M2M_EXP=results/bible-demo \
	  DEMO_SET="experiment=gpu-rehearsal train.max_updates=60 train.validate_interval=30 finetune.max_updates=10 finetune.validate_interval=5" \
	  SPEED_ARGS="--preset tiny --max-tokens 1200 --epoch-updates 20 --updates 5 --decode-sentences 20 --importance-tokens 2000" \
	  QUALITY_SET="train.max_updates=30 train.max_tokens=1200" bash bench/gpu_check.sh run

clean-venv:
	rm -rf $(VENV)
