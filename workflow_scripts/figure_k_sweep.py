# Snakemake `script:` entry point of rule figure_k_sweep.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc import figures
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
o = snakemake.output
figures.k_sweep_figure(list(snakemake.input), **snakemake.params.settings, png=o.png, pdf=o.pdf, csv=o.csv, html=o.html)
