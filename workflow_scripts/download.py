# Snakemake `script:` entry point of rule download.
import _repo_path  # noqa: F401  (neuralloc importable under --sdm conda)
from neuralloc.download import DownloadError, fetch, pip_download
from neuralloc.logs import setup_logging

setup_logging(snakemake.log[0])
spec, out = snakemake.params.spec, snakemake.output[0]
opts = snakemake.params.options
try:
    if "pip" in spec:
        package, version = spec["pip"].split("==")
        pip_download(package, version, out, spec["sha256"], spec["index_url"], opts["retries"], opts["timeout_s"])
    else:
        fetch(spec["urls"], out, spec["sha256"], opts["retries"], opts["timeout_s"])
except DownloadError as e:
    raise SystemExit(f"error: {e}")
