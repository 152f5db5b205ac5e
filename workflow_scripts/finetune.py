# Snakemake `script:` entry point of rules finetune and continue_training (no masks).
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.finetune import run_finetune
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
i = snakemake.input
run_finetune(p.model, p.train, p.finetune, str(Path(i.vocab).parent), str(Path(i.dev_refs[0]).parent), p.pairs,
             str(Path(snakemake.output.checkpoint).parent), snakemake.input.init, snakemake.input.get("masks"), snakemake.threads)
