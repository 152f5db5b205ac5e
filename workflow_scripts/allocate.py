# Snakemake `script:` entry point of rule allocate.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.allocate import run_allocation
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
o = snakemake.output
run_allocation(**snakemake.params.settings, importance=list(snakemake.input), masks=o.masks, counts_csv=o.counts_csv,
               counts_json=o.counts_json)
