# Snakemake `script:` entry point of rule claims.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.claims import make_claims
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
make_claims(**snakemake.params.settings, tables=list(i.tables), figures=list(i.figures), hypotheses=list(i.hypotheses),
            references=list(i.references), cards=list(i.cards), csv=o.csv, md=o.md, html=o.html)
