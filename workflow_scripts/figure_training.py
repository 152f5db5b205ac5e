# Snakemake `script:` entry point of rule figure_training_curves (one figure per model).
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc import figures
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
for log_csv, model, png in zip(snakemake.input, snakemake.params.models, snakemake.output.png):
    figures.training_figure(log_csv, model, str(Path(png).with_suffix("")))
