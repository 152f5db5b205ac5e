# Snakemake `script:` entry point of rule score.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.scoring import score_system

setup_logging(snakemake.log[0])
i = snakemake.input
score_system(**snakemake.params.settings, hypotheses=list(i.hypotheses), references=list(i.references),
             out=snakemake.output[0])
