"""What bf16 autocast does to decoding: hypotheses that change against fp32, and BLEU, for the
output projection in bf16 (what decoding did before) and in fp32 (what it does now), on toy
models trained here to several points (small margins between candidate tokens early on).

    .venv/bin/python bench/decode_precision.py

On the CPU, bf16 autocast rounds the same matrix products a GPU's does (CPU autocast supports
bf16), so the counts say what a GPU's bf16 decoding changes; the time ratio is the CPU's only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures"))
from toy import make_toy_experiment  # noqa: E402

import neuralloc.model as model_module  # noqa: E402
from neuralloc.data import ParallelData  # noqa: E402
from neuralloc.decoding import decode  # noqa: E402
from neuralloc.fileio import read_lines  # noqa: E402
from neuralloc.model import ModelConfig  # noqa: E402
from neuralloc.scoring import corpus_scores  # noqa: E402
from neuralloc.tokenization import postprocess  # noqa: E402
from neuralloc.train import TrainConfig, experiment_trainer  # noqa: E402
from neuralloc.vocab import Vocabulary  # noqa: E402

PAIRS = ["en-it", "it-en"]


def bf16_projection(enabled: bool):
    """Transformer.decode with the output projection under autocast (the code before the fix)."""
    original = model_module.Transformer.decode

    def patched(self, *args, fp32_logits=False, **kwargs):
        return original(self, *args, fp32_logits=False if enabled else fp32_logits, **kwargs)

    return original, patched


def translate(model, src, vocab, beam, precision):
    original, patched = bf16_projection(precision == "bf16, bf16 projection")
    model_module.Transformer.decode = patched
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision != "fp32"):
            t0 = time.perf_counter()
            out = decode(model, src, vocab.bos, vocab.eos, beam=beam)
            return out, time.perf_counter() - t0
    finally:
        model_module.Transformer.decode = original


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, nargs="+", default=[100, 200, 400])
    p.add_argument("--sentences", type=int, default=300)
    args = p.parse_args()
    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="neuralloc-precision-"))
    root = make_toy_experiment(tmp / "toy", pairs=PAIRS, n_train=800, n_dev=args.sentences, reverse_pairs=("it-en",))
    vocab = Vocabulary.load(root / "data/dict.txt")
    test = ParallelData.from_experiment(root, "test", PAIRS, vocab, 40, with_target=False)
    items = [(q, i) for q in range(len(PAIRS)) for i in range(args.sentences)]
    src = test.collate(items).src
    refs = [read_lines(root / f"raw/test.{pair}.tgt") for pair in PAIRS]
    print("| model (updates) | beam | decoding | hypotheses changed vs fp32 | BLEU | time vs fp32 (CPU) |")
    print("|---|---|---|---|---|---|")
    for updates in args.updates:
        cfg = TrainConfig(max_tokens=600, lr=3e-3, warmup_updates=50, max_updates=updates, log_interval=10**6,
                          validate_interval=10**6, valid_bleu_sentences=0, seed=1)
        mcfg = ModelConfig(vocab_size=0, d_model=64, ffn_dim=128, heads=4, encoder_layers=2, decoder_layers=2,
                           dropout=0.0, max_positions=40)
        trainer = experiment_trainer(root, mcfg, cfg, PAIRS, tmp / f"m{updates}")
        trainer.train()
        model = trainer.model.eval()
        for beam in (1, 4):
            base, base_time = translate(model, src, vocab, beam, "fp32")
            for precision in ("fp32", "bf16, bf16 projection", "bf16, fp32 projection"):
                hyps, seconds = (base, base_time) if precision == "fp32" else translate(model, src, vocab, beam, precision)
                changed = sum(a != b for a, b in zip(hyps, base))
                text = [postprocess(vocab.decode(h)) for h in hyps]
                bleu = sum(corpus_scores(text[q * args.sentences:(q + 1) * args.sentences], refs[q][:args.sentences])["bleu"]
                           for q in range(len(PAIRS))) / len(PAIRS)
                print(f"| {updates} | {beam} | {precision} | {changed} of {len(hyps)} | {bleu:.2f} | "
                      f"{seconds / base_time:.2f} |")


if __name__ == "__main__":
    main()
