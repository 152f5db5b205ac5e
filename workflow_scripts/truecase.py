# Snakemake `script:` entry point of rule truecase.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import truecase_pair

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
truecase_pair([i.src, i.tgt], [i.src_model, i.tgt_model], [o.src, o.tgt], snakemake.threads)
