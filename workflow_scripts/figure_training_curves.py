# Snakemake `script:` entry point of rule figure_training_curves (one figure per model).
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc import figures
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
o = snakemake.output
figures.training_figures(list(snakemake.input), **snakemake.params.settings, pngs=list(o.png), pdfs=list(o.pdf),
                         csvs=list(o.csv), htmls=list(o.html))
