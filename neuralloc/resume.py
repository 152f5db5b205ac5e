"""What a training run keeps on disk, and how it resumes.

A run writes its declared outputs (``checkpoint_best.pt``, ``model.json``, ``train_log.csv``) and,
beside them, its resume state ``checkpoint_last.pt`` (model, optimizer, update counter, epoch and
batch position, RNG states, the log rows) and optionally ``checkpoint{N}.pt`` of the last
validations (for averaging). A run resumes only a ``checkpoint_last.pt`` whose fingerprint (every
setting that shapes the training trajectory) equals its own.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from .checkpoint import load_checkpoint, save_checkpoint
from .fileio import atomic_open

log = logging.getLogger(__name__)

LOG_FIELDS = ["kind", "update", "epoch", "pair", "loss", "bleu", "lr", "tokens_per_s", "wall_s"]
# Settings that may differ between a checkpoint and the run resuming it: they do not change the
# trajectory (validation runs in eval mode and draws no random numbers), so a longer run or more
# frequent validation resumes.
RESUMABLE_CHANGES = ("max_updates", "max_epochs", "device", "log_interval", "validate_interval",
                     "valid_bleu_sentences", "best_by", "keep_last", "compile")


@dataclass(frozen=True)
class RunFiles:
    """The files of one training run: the three the rule declares, and the undeclared resume
    state beside the best checkpoint."""

    checkpoint: Path  # checkpoint_best.pt
    card: Path        # model.json
    log: Path         # train_log.csv

    @classmethod
    def of(cls, checkpoint: str | Path, card: str | Path, log: str | Path) -> "RunFiles":
        return cls(Path(checkpoint), Path(card), Path(log))

    @property
    def last(self) -> Path:
        return self.checkpoint.with_name("checkpoint_last.pt")

    def numbered(self, update: int) -> Path:
        return self.checkpoint.with_name(f"checkpoint{update}.pt")

    def numbered_all(self) -> list[Path]:
        """The kept ``checkpoint{N}.pt``, oldest first."""
        found = self.checkpoint.parent.glob("checkpoint[0-9]*.pt")
        return sorted(found, key=lambda p: int(p.stem[len("checkpoint"):]))


def fingerprint(model_config: dict, train_config: dict, pairs: list[str], vocab_tokens: list[str], extra: str) -> str:
    """What a resumed run must share with the checkpoint it resumes."""
    train = {k: v for k, v in train_config.items() if k not in RESUMABLE_CHANGES}
    blob = json.dumps([model_config, train, pairs, "\n".join(vocab_tokens), extra], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def resumable_state(files: RunFiles, expected_fingerprint: str) -> dict | None:
    """The resume state of ``files`` if it belongs to this configuration; a foreign one is moved
    aside (``checkpoint_last.stale.pt``), never resumed."""
    path = files.last
    if not path.exists():
        return None
    state = load_checkpoint(path)
    if state.get("fingerprint") != expected_fingerprint:
        stale = path.with_name("checkpoint_last.stale.pt")
        path.replace(stale)
        log.warning("%s belongs to another configuration; moved to %s and starting afresh", path, stale)
        return None
    return state


def save_state(state: dict, files: RunFiles, best: bool, keep_last: int) -> None:
    """The resume state; the best checkpoint when ``best``; the last ``keep_last`` numbered ones."""
    save_checkpoint(state, files.last)
    if best:
        save_checkpoint(state, files.checkpoint)
    if keep_last > 0:
        save_checkpoint(state, files.numbered(state["update"]))
        for old in files.numbered_all()[:-keep_last]:
            old.unlink()


def plain_config(config) -> dict:
    """A dataclass config as JSON-like values (tuples as lists), as checkpoints store it."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


class CsvLog:
    """The training log. Its rows also travel in every checkpoint, so a resumed run rewrites the
    history up to the checkpoint even if the file was lost (Snakemake removes the outputs of a
    killed job)."""

    def __init__(self, path: Path | None, rows: list[dict] | None = None):
        """``path`` None: rows are kept but not written (ranks other than 0)."""
        self.path, self.rows = path, list(rows or [])
        if path is None:
            return
        with atomic_open(path) as f:
            w = csv.DictWriter(f, LOG_FIELDS)
            w.writeheader()
            w.writerows(self.rows)

    def write(self, **row) -> None:
        row = {k: str(row.get(k, "")) for k in LOG_FIELDS}
        self.rows.append(row)
        if self.path is None:
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow(row)


def write_model_card(path: Path, parameters: int, model_config: dict) -> None:
    """The model's config and exact parameter count beside its checkpoints (the tables' Para)."""
    with atomic_open(path) as f:
        json.dump({"parameters": parameters, "model_config": model_config}, f, indent=1)
