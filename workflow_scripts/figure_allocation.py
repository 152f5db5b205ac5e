# Snakemake `script:` entry point of rule figure_allocation.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc import figures
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
o = snakemake.output
figures.allocation_figures(snakemake.input[0], str(Path(o.lscore_png).with_suffix("")), str(Path(o.mscore_png).with_suffix("")))
