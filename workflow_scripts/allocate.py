# Snakemake `script:` entry point of rule allocate: the allocate CLI, run in-process.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.allocate import main
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
p, w = snakemake.params, snakemake.wildcards
main(["--importance-dir", str(Path(snakemake.input[0]).parent), "--pairs", p.pairs, "--rho", w.rho, "--k", w.k,
      "--variant", w.variant, "--site-kinds", p.site_kinds, "--out", snakemake.output.masks])
