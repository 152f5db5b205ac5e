"""What a training run keeps on disk, and how it resumes.

A run writes its declared outputs (``checkpoint_best.pt``: the best weights, no optimizer state;
``model.json``; ``train_log.csv``) and, while it trains, its resume state in ``resume/`` beside
them: ``last.pt`` (model, optimizer, update counter, epoch and batch position, RNG states, the best
score so far, the log rows) and ``best.pt`` (the best weights so far). Snakemake deletes the declared
outputs of a failed job, never ``resume/``, so an interrupted run resumes with its best intact. When
training ends, ``best.pt`` becomes ``checkpoint_best.pt`` and ``resume/`` is removed: a finished run
is never resumed, so a rerun (forced, or after a change upstream) trains from scratch.

A run resumes only a state whose fingerprint equals its own: every setting that shapes the
trajectory, the pairs, the vocabulary, and the digests of the files it started from (initial
checkpoint, masks, data); and never one past its ``max_updates``. Any other state is set aside
(``resume.stale/``), never resumed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from .checkpoint import load_checkpoint, save_checkpoint
from .fileio import atomic_open, atomic_path
from .systems import has_dropout

log = logging.getLogger(__name__)

LOG_FIELDS = ["kind", "update", "epoch", "pair", "loss", "bleu", "lr", "tokens_per_s", "wall_s"]
# Settings that may differ between a resume state and the run resuming it: they do not change the
# trajectory (validation runs in eval mode and draws no random numbers), so a longer run or more
# frequent validation resumes an interrupted one. ``compile`` only without dropout: compiled code
# draws its own random numbers for dropout (fingerprint).
RESUMABLE_CHANGES = ("max_updates", "max_epochs", "device", "log_interval", "validate_interval",
                     "valid_bleu_sentences", "best_by", "keep_last", "compile", "distributed_timeout_min")
# What a weights-only checkpoint (checkpoint_best.pt, resume/best.pt, checkpoint{N}.pt) keeps of a state.
WEIGHTS_KEYS = ("model", "model_config", "train_config", "pairs", "update", "metric", "fingerprint", "provenance")


@dataclass(frozen=True)
class RunFiles:
    """The files of one training run: the three the rule declares, and the resume state beside them."""

    checkpoint: Path  # checkpoint_best.pt
    card: Path        # model.json
    log: Path         # train_log.csv

    @classmethod
    def of(cls, checkpoint: str | Path, card: str | Path, log: str | Path) -> "RunFiles":
        return cls(Path(checkpoint), Path(card), Path(log))

    @property
    def resume_dir(self) -> Path:
        return self.checkpoint.parent / "resume"

    @property
    def last(self) -> Path:
        return self.resume_dir / "last.pt"

    @property
    def best(self) -> Path:
        return self.resume_dir / "best.pt"

    def numbered(self, update: int) -> Path:
        return self.checkpoint.with_name(f"checkpoint{update}.pt")

    def numbered_all(self) -> list[Path]:
        """The kept ``checkpoint{N}.pt``, oldest first."""
        found = self.checkpoint.parent.glob("checkpoint[0-9]*.pt")
        return sorted(found, key=lambda p: int(p.stem[len("checkpoint"):]))


def fingerprint(model_config: dict, train_config: dict, pairs: list[str], vocab_tokens: list[str],
                provenance: dict) -> str:
    """What a resumed run must share with the state it resumes. With dropout, ``compile`` too:
    Inductor draws dropout's random numbers its own way, so a run that toggles it is another run."""
    dropout = has_dropout(model_config)
    train = {k: v for k, v in train_config.items() if k not in RESUMABLE_CHANGES or (k == "compile" and dropout)}
    blob = json.dumps([model_config, train, pairs, "\n".join(vocab_tokens), provenance], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _set_aside(files: RunFiles, why: str) -> None:
    stale = files.resume_dir.with_name("resume.stale")
    shutil.rmtree(stale, ignore_errors=True)
    files.resume_dir.replace(stale)
    log.warning("%s %s; moved to %s and training from scratch", files.resume_dir, why, stale)


def resumable_state(files: RunFiles, expected_fingerprint: str, max_updates: int) -> dict | None:
    """The resume state of ``files`` if it is this run's, interrupted before ``max_updates``."""
    if not files.last.exists():
        if files.resume_dir.exists():
            shutil.rmtree(files.resume_dir)  # a best.pt without its state: nothing to resume
        return None
    state = load_checkpoint(files.last)
    if state.get("fingerprint") != expected_fingerprint:
        _set_aside(files, "belongs to another configuration or other starting files")
        return None
    if state["update"] > max_updates:
        _set_aside(files, f"is at update {state['update']}, past max_updates {max_updates}")
        return None
    return state


def weights_of(state: dict) -> dict:
    """A state's weights-only checkpoint: what translation, importance and fine-tuning read."""
    return {k: state[k] for k in WEIGHTS_KEYS if k in state}


def save_state(state: dict, files: RunFiles, best: bool, keep_last: int, numbered: bool) -> None:
    """The resume state; its weights as the best so far when ``best`` (written first, so that
    ``last.pt`` never points to a best that is not on disk); the last ``keep_last`` numbered
    weights when ``numbered``."""
    if best:
        save_checkpoint(weights_of(state), files.best)
    save_checkpoint(state, files.last)
    if numbered and keep_last > 0:
        save_checkpoint(weights_of(state), files.numbered(state["update"]))
        for old in files.numbered_all()[:-keep_last]:
            old.unlink()


def finish(files: RunFiles) -> None:
    """Training ended: the best weights become the declared checkpoint; the resume state goes."""
    with atomic_path(files.checkpoint) as tmp:
        shutil.copyfile(files.best, tmp)
    shutil.rmtree(files.resume_dir)


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
