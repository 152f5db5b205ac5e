# Snakemake `script:` entry point of rule download. Sources, retries and timeouts come from the
# config, not from params: they change how a file is fetched, not the file.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.download import download_file
from neuralloc.logs import setup_logging
from neuralloc.settings import download_execution

setup_logging(snakemake.log[0])
download_file(**download_execution(snakemake.config, snakemake.wildcards.file), out=snakemake.output[0])
