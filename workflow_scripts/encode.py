# Snakemake `script:` entry point of rule encode.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import encode_pair

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
encode_pair([i.src, i.tgt], i.vocab, [o.src, o.tgt])
