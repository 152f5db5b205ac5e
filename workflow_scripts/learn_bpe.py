# Snakemake `script:` entry point of rule learn_bpe (the inputs are named by language).
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import learn_bpe

setup_logging(snakemake.log[0])
learn_bpe(dict(snakemake.input.items()), **snakemake.params.settings, codes=snakemake.output.codes,
          vocabs=list(snakemake.output.vocabs))
