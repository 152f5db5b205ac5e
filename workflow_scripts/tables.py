# Snakemake `script:` entry point of rule tables.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.tables import make_tables

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
make_tables(**snakemake.params.settings, scores=list(i.scores), hypotheses=list(i.hypotheses),
            references=list(i.references), cards=list(i.cards), csv=list(o.csv), md=list(o.md), tex=list(o.tex), html=list(o.html))
