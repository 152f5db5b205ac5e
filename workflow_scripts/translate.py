# Snakemake `script:` entry point of rule translate (every pair of one system and split).
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from pathlib import Path

from neuralloc.logs import setup_logging
from neuralloc.translate import translate_split

setup_logging(snakemake.log[0])
w, p, i = snakemake.wildcards, snakemake.params, snakemake.input
checkpoints = i.checkpoints if len(i.checkpoints) == len(p.pairs) else [i.checkpoints[0]] * len(p.pairs)
translate_split(dict(zip(p.pairs, checkpoints)), str(Path(i.vocab).parent), w.split, dict(zip(p.pairs, snakemake.output)),
                p.decode, p.detruecase, i.get("masks"), p.erase, snakemake.threads)
