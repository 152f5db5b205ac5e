# Snakemake `script:` entry point of rule tokenize.
from neuralloc.logs import setup_logging
from neuralloc.preprocess import tokenize_pair

setup_logging(snakemake.log[0])
tokenize_pair(snakemake.input, snakemake.output, snakemake.params.langs,
              snakemake.params.normalize_punct, snakemake.params.length_filter, snakemake.threads)
