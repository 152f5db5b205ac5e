# Snakemake `script:` entry point of rules figure_erasure and figure_variants.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc import figures
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
stem = str(Path(snakemake.output.png).with_suffix(""))
p = snakemake.params
figures.bars_figure(list(snakemake.input), p.runs, p.reference, p.group, p.ylabel, stem)
