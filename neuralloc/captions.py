"""The captions of the report's results, from one home: ``report/{name}.rst``. Snakemake shows
them behind a result's icon; the figure and table pages show the same text under the result.
Each is a Jinja template over ``snakemake.config`` (Snakemake's own convention), rendered here
to plain text."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

REPORT_DIR = Path(__file__).resolve().parents[1] / "report"


def caption_path(name: str) -> Path:
    return REPORT_DIR / f"{name}.rst"


def render(name: str, config: dict) -> str:
    """``report/{name}.rst`` with the config's values filled in, on one line."""
    import jinja2

    template = jinja2.Template(caption_path(name).read_text(encoding="utf-8"), undefined=jinja2.StrictUndefined)
    text = template.render(snakemake=SimpleNamespace(config=config))
    return " ".join(text.replace("**", "").split())
