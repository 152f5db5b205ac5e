# Snakemake `script:` entry point of rules pretrain and train_individual (under torchrun when the
# rule has more than one GPU: see neuralloc/distributed.py).
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.distributed import gpu_processes, launch
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
p, i = snakemake.params, snakemake.input
kwargs = dict(model=p.model, train=p.train, data_dir=str(Path(i.vocab).parent), raw_dir=str(Path(i.dev_refs[0]).parent),
              pairs=p.pairs, out_dir=str(Path(snakemake.output.checkpoint).parent), threads=snakemake.threads)
launch("train", kwargs, gpu_processes(snakemake.resources.get("gpu", 0)), snakemake.log[0])
