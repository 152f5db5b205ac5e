"""Logging set-up shared by every entry point: one log file per rule (Snakemake's ``log:``),
mirrored on stderr. An exception that ends the job is logged there too, with its traceback, so the
log Snakemake points to after a failure says what failed."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from tqdm import tqdm

# "lines": each refresh of a progress bar is a line of its own, every 30 s. The workflow sets it
# (rules/common.smk): jobs running side by side share one terminal, where redrawn bars overwrite
# each other. "bar" (the default elsewhere) redraws one line.
PROGRESS_ENV = "NEURALLOC_PROGRESS"


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO, mode: str = "w") -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
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


class _Lines:
    """A stream for tqdm that ends every refresh with a newline instead of redrawing it."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")
            self.stream.flush()

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:  # no terminal, no bar: the job's log gets its progress instead
        return self.stream.isatty()


def progress(iterable=None, *, desc: str, total: int | None = None, initial: int = 0, disable: bool | None = None):
    """A progress bar named after its job (``desc``: the model, system or pair it works on)."""
    lines = os.environ.get(PROGRESS_ENV, "bar") == "lines"
    return tqdm(iterable, desc=desc, total=total, initial=initial, disable=disable, dynamic_ncols=not lines,
                file=_Lines(sys.stderr) if lines else None, mininterval=30 if lines else 0.1)
