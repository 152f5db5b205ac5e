# Snakemake `script:` entry point of rules pretrain and train_individual.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.logs import setup_logging
from neuralloc.train import run_training

setup_logging(snakemake.log[0])
p = snakemake.params
i = snakemake.input
run_training(p.model, p.train, str(Path(i.vocab).parent), str(Path(i.dev_refs[0]).parent), p.pairs, str(Path(snakemake.output.checkpoint).parent),
             snakemake.threads)
