"""Make the repository's ``neuralloc`` importable from a rule's script, also inside a conda
environment (``--sdm conda``) where the package is not installed. Snakemake puts this folder on
``sys.path`` for ``script:`` rules; its parent is the repository root."""

import sys
from pathlib import Path

_root = str(Path(__file__).resolve().parents[1])
if _root not in sys.path:
    sys.path.insert(0, _root)
