"""What a config will cost before it runs: every model it trains (per seed), their parameters and
updates, the disk their checkpoints take, and GPU-hours at an assumed training throughput.

    python -m neuralloc.plan configs/bible-m2m.yaml train.max_updates=50000   # or: make plan CONFIG=... SET=...

An estimate, and says so: parameter counts are exact (the models are built on PyTorch's meta
device, no memory), the vocabulary is read from the experiment's ``data/dict.txt`` when it exists
and estimated from ``bpe.merges`` otherwise; time counts training only, at ``tokens_per_s``
target tokens per second for a transformer-base-sized model, scaled by parameter count for
others (decoding, importance and the data stages add little beside it on a GPU).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from . import design, layout, settings
from .config import ConfigError, dotted_settings, load_config
from .languages import languages_of
from .systems import FAMILY_BASE, parse_method_system

BYTES_PER_PARAMETER = 4       # fp32 weights in checkpoint_best.pt
RESUME_BYTES_PER_PARAMETER = 16  # resume/ while a job trains: weights, two Adam moments, the best weights
REFERENCE_TOKENS_PER_S = 239_000  # a plain PyTorch trainer, transformer base, one H100 (bf16)
REFERENCE_PARAMETERS = 64_000_000  # transformer base with a joint 40k vocabulary


@dataclass
class Job:
    model: str        # models/{model} of one seed
    parameters: int
    updates: int
    tokens_per_update: int

    @property
    def tokens(self) -> int:
        return self.updates * self.tokens_per_update


def vocabulary_size(config: dict) -> tuple[int, bool]:
    """(size, exact): the experiment's dict.txt if built, else specials + target tags + merges +
    about 300 characters."""
    path = Path(layout.vocab(layout.experiment(config)))
    if path.exists():
        return sum(1 for _ in open(path, encoding="utf-8")), True
    return 4 + len(languages_of(config["pairs"])) + config["bpe"]["merges"] + 300, False


def parameters(model: dict, vocab_size: int) -> int:
    import torch

    from .model import ModelConfig, Transformer

    with torch.device("meta"):
        return Transformer(ModelConfig(vocab_size=vocab_size, **model)).num_parameters()


def jobs(config: dict, vocab_size: int) -> list[Job]:
    """The training jobs of one seed, with the settings the workflow gives each."""
    seed, pairs = config["seeds"][0], config["pairs"]
    specs: dict[str, dict] = {}
    for system in design.table_systems(config):
        if system == "individual":
            specs.update({f"individual/{p}": settings.train_individual(config, p, seed) for p in pairs})
        elif system == "continued":
            specs["multilingual"] = settings.pretrain(config, "multilingual", seed)
            specs["continued"] = settings.continue_training(config, seed)
        elif (m := parse_method_system(system)) is not None:
            arch = FAMILY_BASE[m["family"]]
            specs[arch] = settings.pretrain(config, arch, seed)
            specs[system] = settings.finetune(config, m["family"], seed)
        else:
            specs[system] = settings.pretrain(config, system, seed)
    out = []
    for name, spec in specs.items():
        train = spec["train"]
        out.append(Job(name, parameters(spec["model"], vocab_size), train["max_updates"],
                       train["max_tokens"] * train["update_freq"]))
    return out


def gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"


def report(config: dict, tokens_per_s: float = REFERENCE_TOKENS_PER_S) -> str:
    vocab, exact = vocabulary_size(config)
    todo = jobs(config, vocab)
    seeds = len(config["seeds"])
    keep = 1 + config["train"]["keep_last"]  # checkpoint_best.pt and the kept validation checkpoints
    disk = sum(j.parameters for j in todo) * BYTES_PER_PARAMETER * keep * seeds
    peak = max(j.parameters for j in todo) * RESUME_BYTES_PER_PARAMETER
    seconds = sum(j.tokens / (tokens_per_s * REFERENCE_PARAMETERS / max(j.parameters, 1)) for j in todo) * seeds
    lines = [f"experiment {config['experiment']}: {len(todo)} trained models per seed, {seeds} seed(s); "
             f"vocabulary {vocab:,} ({'from data/dict.txt' if exact else 'estimated from bpe.merges'})",
             "",
             f"{'model':<44} {'parameters':>12} {'updates':>9} {'target tokens':>15}"]
    for j in todo:
        lines.append(f"{j.model:<44} {j.parameters:>12,} {j.updates:>9,} {j.tokens:>15,}")
    hours = f"{seconds / 3600:.1f} GPU-hours" if seconds >= 3600 else f"{seconds / 60:.1f} GPU-minutes"
    lines += ["",
              f"disk for the models: {gb(disk)} (checkpoint_best.pt{' and ' + str(keep - 1) + ' kept checkpoints' if keep > 1 else ''}, "
              f"weights only), plus up to {gb(peak)} per training job while it runs (its resume/ folder, removed when it ends)",
              f"training time: {hours} at {tokens_per_s:,.0f} target tokens/s for a "
              f"{REFERENCE_PARAMETERS / 1e6:.0f}M-parameter model (scaled by size; an assumption, not a measurement: "
              "docs/benchmarks.md has what was measured)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("config", nargs="?", default="config.yaml")
    p.add_argument("settings", nargs="*", help="dotted settings over the config, as make's SET: train.max_updates=500")
    p.add_argument("--tokens-per-s", type=float, default=REFERENCE_TOKENS_PER_S,
                   help="training throughput of a transformer-base-sized model on your GPU (target tokens/s)")
    args = p.parse_args(argv)
    try:
        print(report(load_config(args.config, dotted_settings(args.settings)), args.tokens_per_s))
    except (ConfigError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
