# Snakemake `script:` entry point of rule train_truecaser.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import learn_truecaser

setup_logging(snakemake.log[0])
learn_truecaser(snakemake.input, snakemake.output[0], snakemake.threads)
