"""The engine's speed figures in one JSON file: training throughput, the first epoch against a
steady one, MFU, beam-4 decoding, masked fine-tuning, importance, and the routed baselines.

    python bench/gpu_speed.py results/bible-m2m --preset base --max-tokens 10800 --out speed.json   # a GPU
    .venv/bin/python bench/gpu_speed.py results/bible-demo --preset tiny --epoch-updates 20 \\
        --updates 5 --decode-sentences 40 --out /tmp/speed.json                                    # CPU rehearsal

Every figure is measured in this process, on the experiment's encoded data, in this order:

- ``first_epoch_over_steady``: seconds per target token of the first epoch of a fresh process (every
  batch shape met for the first time) over those of the second; ``train_target_tokens_per_s`` is
  the second epoch's rate (``--epoch-updates`` caps both epochs for a rehearsal);
- ``mfu``: FLOPs of the training updates of the second epoch, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` on a sample of its batches (the matrix products of
  forward and backward on the padded batch, attention included: what the GPU computes), per
  second, over the card's dense bf16 peak (``PEAK_BF16``);
- ``masked_over_unmasked``: masked fine-tuning (random masks keeping 95% of the neurons, mixed
  pairs) over plain training of the same model on the same batches, interleaved;
- ``importance_over_training``: a TE importance pass over one pair's data over a training pass
  over the same data (one update per batch);
- ``beam4_sentences_per_s``: the translate rule's path (length-sorted batches, ``decode.max_tokens``
  auto, post-processing) over the test sets of every pair, after the two epochs of training;
- ``ts_over_multilingual``, ``adapter_over_multilingual``: steady training rate of the +TS and
  +Adapter architectures over Multilingual's, on the same batches after a pass over every shape.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import experiment_pairs, sync  # noqa: E402

from neuralloc.data import ParallelData, bucket_of, epoch_batches, inference_batches  # noqa: E402
from neuralloc.fileio import atomic_open  # noqa: E402
from neuralloc.importance import importance, sample_sentences  # noqa: E402
from neuralloc.masking import MaskTable  # noqa: E402
from neuralloc.model import ModelConfig  # noqa: E402
from neuralloc.train import TrainConfig, experiment_trainer  # noqa: E402
from neuralloc.translate import AUTO_MAX_TOKENS, translate_data  # noqa: E402

PRESETS = {
    "base": dict(d_model=512, ffn_dim=2048, heads=8, encoder_layers=6, decoder_layers=6),
    "tiny": dict(d_model=32, ffn_dim=64, heads=2, encoder_layers=1, decoder_layers=1),
}
# dense bf16 peak of a card, FLOP/s (NVIDIA's data sheets, SXM parts, without sparsity)
PEAK_BF16 = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12, "L40S": 362e12}


def peak_of(device: torch.device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return platform.processor() or platform.machine(), None
    name = torch.cuda.get_device_name(device)
    return name, next((v for k, v in PEAK_BF16.items() if k in name), None)


def timed(device, fn) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def run_updates(trainer, batches) -> int:
    return sum(trainer.step([b])[1] for b in batches)


def rate(trainer, batches) -> float:
    """Target tokens per second of ``batches``, one update each."""
    tokens = []
    seconds = timed(trainer.device, lambda: tokens.append(run_updates(trainer, batches)))
    return tokens[0] / seconds


def make_trainer(exp: Path, pairs, preset: str, max_tokens: int, arch: dict | None = None, name: str = "m"):
    mcfg = ModelConfig(vocab_size=0, max_positions=256, dropout=0.1, **PRESETS[preset], **(arch or {}))
    tcfg = TrainConfig(max_tokens=max_tokens, max_updates=10**9, warmup_updates=4000, valid_bleu_sentences=0)
    return experiment_trainer(exp, mcfg, tcfg, pairs, f"/tmp/neuralloc-speed/{name}")


def shapes_pass(trainer, batches) -> list:
    """One batch of every shape: what a new process pays once per shape."""
    seen, first = set(), []
    for b in batches:
        length = bucket_of(max(int(trainer.train_data.sizes(p)[i]) for p, i in b))
        if length not in seen:
            seen.add(length)
            first.append(b)
    return first


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment_dir", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--preset", choices=PRESETS, default="base")
    p.add_argument("--max-tokens", type=int, default=10800)
    p.add_argument("--epoch-updates", type=int, help="cap each of the two timed epochs (a rehearsal)")
    p.add_argument("--updates", type=int, default=100, help="updates per masked/unmasked/baseline measurement")
    p.add_argument("--flop-batches", type=int, default=10)
    p.add_argument("--decode-sentences", type=int, help="per pair (default: the whole test set)")
    p.add_argument("--importance-tokens", type=int, default=200_000, help="target tokens of the importance comparison")
    args = p.parse_args()
    exp = args.experiment_dir
    pairs = experiment_pairs(exp)
    result: dict = {"preset": args.preset, "max_tokens": args.max_tokens, "pairs": pairs, "torch": torch.__version__}

    def save():
        with atomic_open(args.out) as f:
            json.dump(result, f, indent=1)

    trainer = make_trainer(exp, pairs, args.preset, args.max_tokens)
    device = trainer.device
    result["device"], peak = peak_of(device)
    result["peak_bf16_flops"] = peak
    result["parameters"] = trainer.model.num_parameters()
    save()

    # two epochs: the first of a fresh process, then a steady one
    rates = []
    for epoch in (0, 1):
        batches = epoch_batches(trainer.train_data, args.max_tokens, 1, epoch)[: args.epoch_updates]
        tokens = []
        seconds = timed(device, lambda: tokens.append(run_updates(trainer, batches)))
        rates.append(tokens[0] / seconds)
        result[f"epoch{epoch}"] = {"updates": len(batches), "target_tokens": tokens[0], "seconds": round(seconds, 2)}
    steady = rates[1]
    result["train_target_tokens_per_s"] = round(steady)
    result["target_tokens_per_update"] = round(result["epoch1"]["target_tokens"] / result["epoch1"]["updates"])
    result["first_epoch_over_steady"] = round(steady / rates[0], 3)
    save()

    # FLOPs per target token on a sample of the steady epoch's batches, then MFU
    sample = batches[: args.flop_batches]
    with FlopCounterMode(display=False) as counter:
        sample_tokens = run_updates(trainer, sample)
    flops_per_token = counter.get_total_flops() / sample_tokens
    result["train_flops_per_target_token"] = round(flops_per_token)
    result["mfu"] = round(steady * flops_per_token / peak, 4) if peak else None
    save()

    # masked fine-tuning against plain training, interleaved
    rng = np.random.default_rng(0)
    table = MaskTable({q: {s: rng.random(w) < 0.95 for s, w in trainer.model.site_widths().items()} for q in pairs},
                      pairs, device)
    plain_context = trainer.context_for
    few = batches[: args.updates]
    plain, masked = [], []
    for _ in range(2):
        trainer.context_for = plain_context
        plain.append(rate(trainer, few))
        trainer.context_for = table
        masked.append(rate(trainer, few))
    trainer.context_for = plain_context
    result["masked_over_unmasked"] = round(max(masked) / max(plain), 3)
    save()

    # importance (TE) against a training pass (one update per batch) over the same sentences of one pair
    cap = args.importance_tokens
    chosen = sample_sentences(trainer.train_data, 0, cap, seed=1)
    same = inference_batches(trainer.train_data, 0, args.max_tokens, indices=chosen)
    train_s = timed(device, lambda: run_updates(trainer, same))
    imp_s = timed(device, lambda: importance(trainer.model, trainer.train_data, 0, "te", max_tokens=args.max_tokens,
                                             token_cap=cap, seed=1, device=device))
    result["importance_over_training"] = round(imp_s / train_s, 3)
    result["importance_sentences"] = len(chosen)
    save()

    # beam-4 decoding of every pair's test set (the translate rule's path)
    model = trainer.model.eval()
    test = ParallelData.from_experiment(exp, "test", pairs, trainer.vocab, 256, with_target=False)
    max_tokens = AUTO_MAX_TOKENS.get(device.type, AUTO_MAX_TOKENS["cpu"])
    sentences = 0

    def decode_all():
        nonlocal sentences
        for q in range(len(pairs)):
            sentences += len(translate_data(model, test, q, trainer.vocab, device, beam=4, max_tokens=max_tokens,
                                            limit=args.decode_sentences))
    seconds = timed(device, decode_all)
    result["beam4_sentences_per_s"] = round(sentences / seconds, 1)
    result["beam4_sentences"] = sentences
    model.train()
    save()

    # +TS and +Adapter against Multilingual, steady, on the same batches
    for arch, extra in (("ts", {"target_specific_attention": True}), ("adapter", {"adapter_dim": 64})):
        other = make_trainer(exp, pairs, args.preset, args.max_tokens, {**extra, "route_pairs": pairs}, arch)
        run_updates(other, shapes_pass(other, batches))  # every shape once
        result[f"{arch}_over_multilingual"] = round(rate(other, few) / rate(trainer, few), 3)
        del other
        save()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
