# Snakemake `script:` entry point of rule score.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.scoring import score_system

setup_logging(snakemake.log[0])
w = snakemake.wildcards
score_system(w.system, w.split, snakemake.params.pairs, snakemake.input.hypotheses, snakemake.input.references,
             snakemake.output[0])
