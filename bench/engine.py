"""Engine benchmark: training throughput (target tokens/s), the cost of the first pass over
every batch shape against a steady one, and decoding speed (sentences/s, greedy and beam).

    .venv/bin/python bench/engine.py results/bible-m2m --preset base --max-tokens 10800 --updates 300
    .venv/bin/python bench/engine.py results/bible-demo --preset demo --updates 100   # CPU

Runs on CUDA when available (bf16 autocast), else on the CPU with the threads torch is given.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from neuralloc import layout
from neuralloc.checkpoint import pick_device
from neuralloc.data import ParallelData, bucket_of, epoch_batches
from neuralloc.model import ModelConfig
from neuralloc.train import TrainConfig, experiment_trainer
from neuralloc.translate import translate_data
from neuralloc.vocab import Vocabulary

PRESETS = {
    "base": dict(d_model=512, ffn_dim=2048, heads=8, encoder_layers=6, decoder_layers=6),
    "demo": dict(d_model=64, ffn_dim=256, heads=4, encoder_layers=2, decoder_layers=2),
}


def experiment_pairs(exp: Path) -> list[str]:
    """The pairs whose encoded training data an experiment directory holds."""
    return sorted({f.name.split(".")[1] for f in (exp / "data").glob("train.*.src.tokens.npy")})


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment_dir", type=Path)
    p.add_argument("--preset", choices=PRESETS, default="demo")
    p.add_argument("--max-tokens", type=int, default=1200)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--decode-sentences", type=int, default=400)
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--compile", action="store_true", help="train.compile: torch.compile the training step")
    p.add_argument("--decode-max-tokens", type=int, default=8000, help="decode.max_tokens: source tokens x beam per batch")
    args = p.parse_args()
    device = pick_device("auto")
    exp = args.experiment_dir
    vocab = Vocabulary.load(layout.vocab(str(exp)))
    pairs = experiment_pairs(exp)
    mcfg = ModelConfig(vocab_size=0, max_positions=256, **PRESETS[args.preset])
    tcfg = TrainConfig(max_tokens=args.max_tokens, max_updates=10**9, warmup_updates=4000, valid_bleu_sentences=0,
                       compile=args.compile)
    trainer = experiment_trainer(exp, mcfg, tcfg, pairs, "/tmp/neuralloc-bench")
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"model {args.preset}: {trainer.model.num_parameters():,} parameters, vocab {len(vocab)}, pairs {len(pairs)}")
    batches = epoch_batches(trainer.train_data, args.max_tokens, 1, 0)
    shapes = {bucket_of(max(int(trainer.train_data.sizes(p)[i]) for p, i in b)) for b in batches}
    # first pass: one batch of every shape (what a new process pays the first time it meets each)
    first = []
    seen = set()
    for b in batches:
        L = bucket_of(max(int(trainer.train_data.sizes(p)[i]) for p, i in b))
        if L not in seen:
            seen.add(L)
            first.append(b)
    sync(device)
    t0 = time.perf_counter()
    tok_first = sum(trainer.step([b])[1] for b in first)
    sync(device)
    first_rate = tok_first / (time.perf_counter() - t0)
    steady = batches[: args.updates]
    sync(device)
    t0 = time.perf_counter()
    tok = sum(trainer.step([b])[1] for b in steady)
    sync(device)
    rate = tok / (time.perf_counter() - t0)
    print("\n| measure | value |\n|---|---|")
    print(f"| batch shapes in an epoch | {len(shapes)} |")
    print(f"| training, steady ({len(steady)} updates, {tok / len(steady):,.0f} target tokens each) | {rate:,.0f} target tokens/s |")
    print(f"| training, first batch of each shape | {first_rate:,.0f} target tokens/s ({rate / max(first_rate, 1e-9):.2f}x slower) |")
    model = trainer.model.eval()
    test = ParallelData.from_experiment(exp, "test", pairs[:1], vocab, 256, with_target=False)
    n = min(args.decode_sentences, len(test.src[0]))
    for beam in (1, args.beam):  # the translate rule's path: length-sorted batches, post-processing
        sync(device)
        t0 = time.perf_counter()
        translate_data(model, test, 0, vocab, device, beam=beam, max_tokens=args.decode_max_tokens, limit=n, bf16=True)
        sync(device)
        print(f"| decoding, beam {beam} ({n} sentences of {pairs[0]}, untrained: every output runs to the length limit) "
              f"| {n / (time.perf_counter() - t0):,.1f} sentences/s |")


if __name__ == "__main__":
    main()
