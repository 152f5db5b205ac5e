# Snakemake `script:` entry point of rule build_vocab.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import build_vocab

setup_logging(snakemake.log[0])
build_vocab(list(snakemake.input), **snakemake.params.settings, out=snakemake.output[0])
