# Snakemake `script:` entry point of rule importance.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.importance import run_importance
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
p, w = snakemake.params, snakemake.wildcards
run_importance(snakemake.input.checkpoint, str(Path(snakemake.input.vocab).parent), w.pair, w.imp, snakemake.output[0], p.label_smoothing,
               p.token_cap, snakemake.threads)
