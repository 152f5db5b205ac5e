# Snakemake `script:` entry point of rule figure_allocation.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc import figures
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
figures.allocation_figures(snakemake.input[0], **snakemake.params.settings, **dict(snakemake.output.items()))
