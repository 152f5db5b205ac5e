# Snakemake `script:` entry point of rule figure_importance.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc import figures
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
stem = str(Path(snakemake.output.png).with_suffix(""))
figures.importance_figure(str(Path(snakemake.input[0]).parent), snakemake.params.pairs, snakemake.params.sites, stem)
