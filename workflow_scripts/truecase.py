# Snakemake `script:` entry point of rule truecase.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import truecase_pair

setup_logging(snakemake.log[0])
truecase_pair([snakemake.input.src, snakemake.input.tgt],
              [snakemake.input.src_model, snakemake.input.tgt_model], snakemake.output, snakemake.threads)
