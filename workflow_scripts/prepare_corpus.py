# Snakemake `script:` entry point of rule prepare_corpus.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.corpora import prepare_corpus
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
files = dict(zip(snakemake.params.names, snakemake.input.files))
prepare_corpus(snakemake.params.config, files, Path(snakemake.output.manifest).parent)
