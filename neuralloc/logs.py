"""Logging set-up shared by every entry point: one log file per rule (Snakemake's ``log:``),
mirrored on stderr. An exception that ends the job is logged there too, with its traceback, so the
log Snakemake points to after a failure says what failed.

Under the workflow (``PROGRESS_ENV`` is "log": ``rules/common.smk`` sets it, and jobs inherit it)
the console is shared by every job, so a job's stderr carries only what a user running the whole
workflow needs: warnings, errors, and one line per finished model (``announce``). Everything else
(per-update training lines, translation and data-preparation messages) goes to the job's log file
alone, and there are no progress bars. Outside the workflow (a module run by hand, a test) stderr
gets every INFO line, and a terminal gets a progress bar.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Callable

from tqdm import tqdm

PROGRESS_ENV = "NEURALLOC_PROGRESS"  # "bar" (the default) or "log" (under the workflow)
CONSOLE = {"console": True}  # ``log.info(..., extra=CONSOLE)``: a line the workflow's console shows


def workflow_environment() -> dict[str, str]:
    """What the workflow sets for its jobs: progress to the logs, and no progress bar from any
    library either (tqdm reads TQDM_DISABLE when imported; subword-nmt draws one while learning BPE)."""
    return {PROGRESS_ENV: "log", "TQDM_DISABLE": "1"}


def under_workflow() -> bool:
    return os.environ.get(PROGRESS_ENV, "bar") == "log"


class _ConsoleFilter(logging.Filter):
    """Under the workflow: warnings and worse, and the lines marked CONSOLE."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or getattr(record, "console", False)


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO, mode: str = "w") -> None:
    console = logging.StreamHandler(sys.stderr)
    if under_workflow() and log_file:
        console.addFilter(_ConsoleFilter())
    handlers: list[logging.Handler] = [console]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode=mode, encoding="utf-8"))
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind, value, tb) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("neuralloc").critical("the job failed: %s: %s", kind.__name__, value, exc_info=(kind, value, tb))


def progress(iterable=None, *, desc: str, total: int | None = None, initial: int = 0, disable: bool | None = None):
    """A progress bar named after its job (``desc``: the model, system or pair it works on); none
    under the workflow, where the job's log gets its progress instead (a disabled bar tells the
    caller to log)."""
    return tqdm(iterable, desc=desc, total=total, initial=initial, disable=True if under_workflow() else disable,
                dynamic_ncols=True)


def finished_model(name: str, updates: int, seconds: float, rows: list[dict], metric: Callable[[dict], float]) -> str:
    """The line a finished training job shows: its best validation (by ``metric``, the trainer's
    selection metric over {pair: {"loss", "bleu"}}) from the training log's rows."""
    by_update: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    for row in rows:
        if row["kind"] == "valid":
            result = {"loss": float(row["loss"])} | ({"bleu": float(row["bleu"])} if row["bleu"] not in ("", None) else {})
            by_update[int(row["update"])][row["pair"]] = result
    text = f"{name}: trained, {updates} updates in {seconds:.0f} s"
    if not by_update:
        return text
    best = min(by_update, key=lambda u: (metric(by_update[u]), u))
    results = by_update[best].values()
    text += f"; best at update {best}: dev loss {sum(r['loss'] for r in results) / len(results):.3f}"
    if all("bleu" in r for r in results):
        text += f", greedy dev BLEU {sum(r['bleu'] for r in results) / len(results):.2f}"
    return text + (f" (mean of {len(results)} pairs)" if len(results) > 1 else "")


def announce(logger: logging.Logger, message: str) -> None:
    """An INFO line that the workflow's console shows too."""
    logger.info(message, extra=CONSOLE)
