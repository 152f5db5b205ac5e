# Snakemake `script:` entry point of rule apply_bpe.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.preprocess import apply_bpe

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
apply_bpe([i.src, i.tgt], [o.src, o.tgt], i.codes, [i.src_vocab, i.tgt_vocab], **snakemake.params.settings)
