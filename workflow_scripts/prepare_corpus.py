# Snakemake `script:` entry point of rule prepare_corpus.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.corpora import prepare_corpus
from neuralloc.logs import setup_logging
from neuralloc.settings import prepare_corpus_execution

setup_logging(snakemake.log[0])
prepare_corpus(**snakemake.params.settings, downloads=list(snakemake.input.files), texts=list(snakemake.output.texts),
               manifest=snakemake.output.manifest, **prepare_corpus_execution(snakemake.config))
