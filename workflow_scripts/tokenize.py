# Snakemake `script:` entry point of rule tokenize.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import tokenize_pair

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
tokenize_pair([i.src, i.tgt], [o.src, o.tgt], **snakemake.params.settings, threads=snakemake.threads)
