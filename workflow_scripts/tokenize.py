# Snakemake `script:` entry point of rule tokenize.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import tokenize_pair

setup_logging(snakemake.log[0])
tokenize_pair(snakemake.input, snakemake.output, snakemake.params.langs,
              snakemake.params.normalize_punct, snakemake.params.length_filter, snakemake.threads)
