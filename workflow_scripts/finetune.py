# Snakemake `script:` entry point of rule finetune (under torchrun when the job has more than one GPU or node:
# see neuralloc/distributed.py). Execution-only settings come from the config, not from params.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.distributed import job_shape, launch
from neuralloc.logs import setup_logging
from neuralloc.settings import training_execution
from neuralloc.train import declared_files

setup_logging(snakemake.log[0])
job = {**snakemake.params.settings, **declared_files(snakemake.input, snakemake.output), "threads": snakemake.threads,
       "execution": training_execution(snakemake.config)}
nodes, processes = job_shape(snakemake.resources)
launch("train", job, processes, snakemake.log[0], nodes)
