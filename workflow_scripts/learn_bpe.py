# Snakemake `script:` entry point of rule learn_bpe.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import learn_bpe

setup_logging(snakemake.log[0])
p = snakemake.params
learn_bpe(p.files_by_lang, p.merges, p.min_frequency, snakemake.output.codes, p.vocab_paths)
