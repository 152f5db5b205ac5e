# Snakemake `script:` entry point of rule translate.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.logs import setup_logging
from neuralloc.translate import translate_split

setup_logging(snakemake.log[0])
w, p = snakemake.wildcards, snakemake.params
translate_split(snakemake.input.checkpoint, str(Path(snakemake.input.vocab).parent), w.split, w.pair, snakemake.output[0], p.decode,
                p.detruecase, snakemake.input.get("masks"), p.erase, snakemake.threads)
