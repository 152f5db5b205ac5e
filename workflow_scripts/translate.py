# Snakemake `script:` entry point of rule translate (every pair of one system and split). The
# batch size comes from the config, not from params: it changes speed, not translations.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.logs import setup_logging
from neuralloc.settings import translate_execution
from neuralloc.translate import translate_split

setup_logging(snakemake.log[0])
i = snakemake.input
translate_split(**snakemake.params.settings, checkpoints=list(i.checkpoints), vocab=i.vocab, sources=list(i.sources),
                outputs=list(snakemake.output), masks=i.get("masks"), threads=snakemake.threads,
                **translate_execution(snakemake.config))
