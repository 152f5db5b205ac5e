# Snakemake `script:` entry point of rule importance.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.importance import run_importance
from neuralloc.logs import setup_logging
from neuralloc.settings import importance_execution

setup_logging(snakemake.log[0])
i = snakemake.input
run_importance(**snakemake.params.settings, checkpoint=i.checkpoint, vocab=i.vocab, src=list(i.src), tgt=list(i.tgt),
               out=list(snakemake.output), threads=snakemake.threads, **importance_execution(snakemake.config))
