"""Device reads per training update and per decoding step, for each architecture: how often the
host waits for the GPU (``neuralloc.profiling.DeviceReads``), counted on the CPU.

    .venv/bin/python bench/device_reads.py            # a toy experiment of 6 pairs, made here

Training uses fused Adam, as on a GPU (the CPU's default Adam reads each step counter back, which
a GPU run does not do). Greedy and beam-4 decoding of 16 sentences of each pair, mixed in one
batch, divided by the decoding steps taken.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures"))
from toy import make_toy_experiment  # noqa: E402

from neuralloc.data import ParallelData, epoch_batches  # noqa: E402
from neuralloc.decoding import beam_search, greedy  # noqa: E402
from neuralloc.model import ModelConfig, context_maker  # noqa: E402
from neuralloc.profiling import DeviceReads  # noqa: E402
from neuralloc.train import TrainConfig, experiment_trainer  # noqa: E402
from neuralloc.vocab import Vocabulary  # noqa: E402

PAIRS = ["en-it", "it-en", "en-ro", "ro-en", "it-ro", "ro-it"]
ARCHS = {"multilingual": {}, "ts": {"target_specific_attention": True}, "adapter": {"adapter_dim": 8}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="neuralloc-reads-"))
    root = make_toy_experiment(tmp / "toy", pairs=PAIRS, n_train=200, n_dev=16)
    vocab = Vocabulary.load(root / "data/dict.txt")
    print(f"{len(PAIRS)} pairs mixed in every batch; torch {torch.__version__}\n")
    print("| architecture | reads per training update | reads per greedy step | reads per beam-4 step |")
    print("|---|---|---|---|")
    for arch, extra in ARCHS.items():
        route = {"route_pairs": PAIRS} if extra else {}
        cfg = ModelConfig(vocab_size=0, d_model=32, ffn_dim=64, heads=4, encoder_layers=2, decoder_layers=2,
                          dropout=0.0, max_positions=40, **extra, **route)
        t = experiment_trainer(root, cfg, TrainConfig(max_tokens=400, warmup_updates=2, valid_bleu_sentences=0), PAIRS,
                               tmp / arch)
        t.optimizer = torch.optim.Adam(t.model.parameters(), lr=1e-3, fused=True)  # a GPU run's optimizer
        batches = epoch_batches(t.train_data, 400, 1, 0)
        t.step([batches[0]])  # first update: lazy optimizer state
        with DeviceReads() as reads:
            for b in batches[1:1 + args.updates]:
                t.step([b])
        train_reads = reads.total / args.updates
        model = t.model.eval()
        test = ParallelData.from_experiment(root, "test", PAIRS, vocab, 40, with_target=False)
        items = [(q, i) for q in range(len(PAIRS)) for i in range(16)]
        host = test.collate(items)
        ctx = context_maker(model.cfg, PAIRS)(torch.tensor([q for q, _ in items]))
        per_step = []
        for search in (greedy, lambda *a: beam_search(*a, beam=4)):
            with DeviceReads() as reads:
                hyps = search(model, host.src, vocab.bos, vocab.eos, ctx)
            steps = max(len(h) for h in hyps) + 1
            per_step.append(reads.total / steps)
        print(f"| {arch} | {train_reads:.0f} | {per_step[0]:.1f} | {per_step[1]:.1f} |")


if __name__ == "__main__":
    main()
