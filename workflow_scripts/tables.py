# Snakemake `script:` entry point of rule tables.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.logs import setup_logging
from neuralloc.tables import Row, make_tables

setup_logging(snakemake.log[0])
p, i = snakemake.params, snakemake.input
layout = {name: [Row(system, label) for system, label in rows] for name, rows in p.layout.items()}
hypothesis_dir = str(Path(i.hypotheses[0]).parents[1])
make_tables(layout, p.pairs, p.split, list(i.scores), hypothesis_dir, str(Path(i.references[0]).parent), p.model_dirs,
            p.samples, str(Path(snakemake.output[0]).parent))
