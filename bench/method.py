"""Method benchmark: masked fine-tuning throughput against unmasked training of the same model on
the same batches, and the cost of an importance pass (TE, AV) against a training pass over the
same data.

    .venv/bin/python bench/method.py results/bible-demo --preset demo --updates 60
    .venv/bin/python bench/method.py results/bible-m2m --preset base --max-tokens 10800 --updates 200   # GPU
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neuralloc.data import epoch_batches, inference_batches
from neuralloc.importance import importance
from neuralloc.masking import MaskTable
from neuralloc.model import NO_SITES, ModelConfig
from neuralloc.train import Trainer, TrainConfig, experiment_trainer

from engine import PRESETS, experiment_pairs, sync


def timed_steps(trainer: Trainer, batches) -> float:
    sync(trainer.device)
    t0 = time.perf_counter()
    tokens = sum(trainer.step([b])[1] for b in batches)
    sync(trainer.device)
    return tokens / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment_dir", type=Path)
    p.add_argument("--preset", choices=PRESETS, default="demo")
    p.add_argument("--max-tokens", type=int, default=1200)
    p.add_argument("--updates", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    exp = args.experiment_dir
    pairs = experiment_pairs(exp)
    mcfg = ModelConfig(vocab_size=0, max_positions=256, **PRESETS[args.preset])
    tcfg = TrainConfig(max_tokens=args.max_tokens, max_updates=10**9, warmup_updates=4000, valid_bleu_sentences=0)
    trainer = experiment_trainer(exp, mcfg, tcfg, pairs, "/tmp/neuralloc-bench-method")
    rng = np.random.default_rng(0)
    masks = {q: {s: rng.random(w) < 0.95 for s, w in trainer.model.site_widths().items()} for q in pairs}
    table = MaskTable(masks, pairs, trainer.device)
    batches = epoch_batches(trainer.train_data, args.max_tokens, 1, 0)[: args.updates]
    timed_steps(trainer, batches[:5])  # warm-up
    plain, masked = [], []
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        trainer.context_for = lambda pair_ids: NO_SITES
        plain.append(timed_steps(trainer, batches))
        trainer.context_for = table
        masked.append(timed_steps(trainer, batches))
    print(f"device {trainer.device}, model {args.preset} ({trainer.model.num_parameters():,} parameters), "
          f"{len(batches)} updates of {args.max_tokens} tokens, best of {args.repeats}")
    print("\n| measure | value |\n|---|---|")
    print(f"| unmasked training | {max(plain):,.0f} target tokens/s |")
    print(f"| masked fine-tuning (mixed batches, 95% of neurons active) | {max(masked):,.0f} target tokens/s |")
    print(f"| masked / unmasked | {max(masked) / max(plain):.3f} |")
    # importance against training, over the same examples of one pair
    data = trainer.train_data
    sub_batches = inference_batches(data, 0, args.max_tokens)
    sync(trainer.device)
    t0 = time.perf_counter()
    for b in sub_batches:
        trainer.step([b])
    sync(trainer.device)
    train_s = time.perf_counter() - t0
    for method in ("te", "av"):
        sync(trainer.device)
        t0 = time.perf_counter()
        importance(trainer.model, data, 0, method, max_tokens=args.max_tokens, device=trainer.device)
        sync(trainer.device)
        print(f"| importance {method.upper()} pass / training pass over {pairs[0]} | {(time.perf_counter() - t0) / train_s:.2f} |")


if __name__ == "__main__":
    main()
