"""What a training run keeps on disk, and how it resumes.

A run writes its declared outputs (``checkpoint_best.pt``: the best weights, no optimizer state;
``model.json``; ``train_log.csv``) and, while it trains, its resume state in ``resume/`` beside
them: ``last.pt`` (model, optimizer, update counter, epoch and batch position, RNG states, the best
score so far, the log rows) and ``best.pt`` (the best weights so far). Snakemake deletes the declared
outputs of a failed job, never ``resume/``, so an interrupted run resumes with its best intact. When
training ends, ``best.pt`` becomes ``checkpoint_best.pt`` and ``resume/`` is removed: a finished run
is never resumed, so a rerun (forced, or after a change upstream) trains from scratch.

A run resumes a state only where it then ends as an uninterrupted run would: the state must be
readable, its fingerprint equal to the run's (every setting that shapes the trajectory, the pairs,
the vocabulary, and the digests of the files it started from: initial model, masks, data), made
with the same number of CPU threads (on a CPU the float rounding depends on it), not past a bound
that shrank (``past_bounds``), and its best weights (``best.pt``) intact. Any other state is set
aside (``resume.stale/``), never resumed, and the run trains from scratch.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .fileio import atomic_open, atomic_path
from .systems import has_dropout

log = logging.getLogger(__name__)

LOG_FIELDS = ["kind", "update", "epoch", "pair", "loss", "bleu", "lr", "tokens_per_s", "wall_s"]
# Settings that may differ between a resume state and the run resuming it: they do not change the
# trajectory (validation runs in eval mode and draws no random numbers), so a longer run resumes an
# interrupted one. Those that bound the run or decide its best are checked against the state
# (``past_bounds``); ``compile`` only without dropout: compiled code draws its own random numbers
# for dropout (fingerprint).
RESUMABLE_CHANGES = ("max_updates", "max_epochs", "device", "log_interval", "validate_interval",
                     "valid_bleu_sentences", "best_by", "keep_last", "compile", "distributed_timeout_min")
# What a weights-only checkpoint (checkpoint_best.pt, resume/best.pt, checkpoint{N}.pt) keeps of a state.
WEIGHTS_KEYS = ("model", "model_config", "train_config", "pairs", "update", "metric", "fingerprint", "provenance",
                "cpu_threads")


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


def validates_at(update: int, validate_interval: int, max_updates: int) -> bool:
    """Whether a run validates after ``update`` inside its loop (it validates once more at its end)."""
    return update % validate_interval == 0 and update < max_updates


def past_bounds(state: dict, train: dict) -> str | None:
    """Why a run of ``train`` (its TrainConfig as plain values) resuming ``state`` would not end as
    an uninterrupted one, by the settings of ``RESUMABLE_CHANGES``; None if it would.

    - ``max_updates``, ``max_epochs``: a state past a lowered bound has trained too long;
    - ``validate_interval``: the state's validations must be those the run makes up to its update
      (the best is chosen among them);
    - ``best_by``, and ``valid_bleu_sentences`` where BLEU picks the best: a state that has
      validated chose its best so far by them.

    The others change no weights and no best: ``log_interval`` (the log's rows before the resume
    keep the old interval), ``keep_last`` (which ``checkpoint{N}.pt`` are kept: the next save keeps
    the last ``keep_last``), ``device``, ``compile`` without dropout, ``distributed_timeout_min``."""
    update, epoch, batch = state["update"], state["epoch"], state["batch_in_epoch"]
    max_updates, max_epochs, interval = train["max_updates"], train.get("max_epochs"), train["validate_interval"]
    if update > max_updates:
        return f"is at update {update}, past max_updates {max_updates}"
    if max_epochs is not None and (epoch, batch) > (max_epochs, 0):
        return f"is in epoch {epoch + 1}, past max_epochs {max_epochs}"
    done = sorted({int(r["update"]) for r in state.get("log_rows", []) if r.get("kind") == "valid"})
    made = state.get("train_config", {})
    if done:
        for key in ("best_by",) + (("valid_bleu_sentences",) if train["best_by"] == "bleu" else ()):
            if made.get(key) != train[key]:
                return f"chose its best so far with {key} {made.get(key)}, this run with {train[key]}"
    expected = [u for u in range(interval, update + 1, interval) if validates_at(u, interval, max_updates)]
    at_end = update >= max_updates or (max_epochs is not None and (epoch, batch) == (max_epochs, 0))
    if done != expected and not (at_end and done == expected + [update]):
        return (f"validated at updates {done or 'none'}, where validate_interval {interval} validates at "
                f"{expected or 'none'}: its best would not be the one an uninterrupted run finds")
    return None


def resumable_state(files: RunFiles, expected_fingerprint: str, train: dict, cpu_threads: int | None = None) -> dict | None:
    """The resume state of ``files`` if a run with ``expected_fingerprint``, ``train`` (its
    TrainConfig as plain values) and ``cpu_threads`` (None on a GPU) resuming it ends as an
    uninterrupted run would (see the module's docstring); else None, the state set aside."""
    if not files.last.exists():
        if files.resume_dir.exists():
            shutil.rmtree(files.resume_dir)  # a best.pt without its state: nothing to resume
        return None
    try:
        state = load_checkpoint(files.last)
    except CheckpointError as e:  # a truncated or foreign file: as a state of another run
        _set_aside(files, f"cannot be read ({e})")
        return None
    made_with = state.get("cpu_threads")
    if None not in (made_with, cpu_threads) and made_with != cpu_threads:
        _set_aside(files, f"was made with {made_with} CPU threads, this run has {cpu_threads} (on a CPU the float "
                   f"rounding, so the model, depends on it; set train.threads to {made_with} to resume it)")
        return None
    if state.get("fingerprint") != expected_fingerprint:
        _set_aside(files, "belongs to another configuration or other starting files")
        return None
    why = past_bounds(state, train)
    if why:
        _set_aside(files, why)
        return None
    if state.get("best") is not None:
        try:
            best = load_checkpoint(files.best)
        except CheckpointError as e:
            _set_aside(files, f"has lost its best weights so far ({e})")
            return None
        if best.get("metric") != state["best"] or best.get("fingerprint") != expected_fingerprint:
            _set_aside(files, f"holds in {files.best.name} the weights of another validation or run than its best")
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


def write_model_card(path: Path, parameters: int, model_config: dict, trend: dict | None = None) -> None:
    """The model's config and exact parameter count beside its checkpoints (the tables' Para); when
    training has ended, how its metric moved (``validation.training_trend``: the run summary and the
    claims flag a model that ended worse than it started)."""
    card = {"parameters": parameters, "model_config": model_config}
    if trend is not None:
        card["trend"] = trend
    with atomic_open(path) as f:
        json.dump(card, f, indent=1)
