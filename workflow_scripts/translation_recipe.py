# Snakemake `script:` entry point of rule translation_recipe: the settings `neuralloc translate`
# reads to translate new text as the workflow does.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.fileio import write_json
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
write_json(snakemake.output[0], snakemake.params.settings)
