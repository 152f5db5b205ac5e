"""Compute at many pairs (issue 23): the tables' time (paired bootstrap included), the allocation's
time and the training data's resident memory, on synthetic inputs of ``n`` pairs.

- tables: the default config's tables and systems, ``sweeps.significance_samples`` resamples,
  ``--sentences`` (1,000) test sentences per pair, through ``tables.make_tables``;
- allocation: transformer-base sites (6 + 6 layers, d 512, FFN 2048), random importance,
  ``allocate.allocate`` with the default ρ, k and variant;
- data: ``ParallelData`` over ``--train-sentences`` (20,000) sentences of ~30 tokens per pair and
  side, in a fresh process: its private (anonymous) resident memory, the file pages it has mapped
  in (shared with every other process reading the arrays, and reclaimable), and how fast it builds
  batches (target tokens/s of ``collate`` at training's bucket lengths).

    PYTHONPATH=. .venv/bin/python bench/scale_compute.py              # 2, 21, 132, 462 pairs: ~7 min on 2 cores
    PYTHONPATH=. .venv/bin/python bench/scale_compute.py --pairs 2 21 132   # ~2 min

Figures before a change: the same script with PYTHONPATH on a checkout of the older commit.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = [f"x{i:02d}" for i in range(23)]  # 23 * 22 = 506 directions: enough for 462 pairs
WORDS = [f"w{i}" for i in range(3000)]


def synthetic_pairs(n: int) -> list[str]:
    """``n`` directions among made-up languages, those of the fewest languages first."""
    pairs = [f"{a}-{b}" for k in range(1, len(LANGUAGES)) for a, b in
             itertools.permutations(LANGUAGES[:k + 1], 2) if LANGUAGES[k] in (a, b)]
    if n > len(pairs):
        raise ValueError(f"at most {len(pairs)} synthetic pairs")
    return pairs[:n]


def default_config() -> dict:
    from neuralloc.config import validate

    return validate(yaml.safe_load((REPO / "config.yaml").read_text()))


def _text(ids: np.ndarray, lengths: np.ndarray) -> str:
    """Lines of words ``ids``, ``lengths`` words a line, with a comma halfway and a full stop (as
    real text has: the tokenizer's rules for them run)."""
    words = np.asarray(WORDS)[ids].tolist()
    ends = np.cumsum(lengths).tolist()
    return "".join(" ".join(words[end - n:end - n // 2]) + ", " + " ".join(words[end - n // 2:end]) + ".\n"
                   for end, n in zip(ends, lengths.tolist()))


def tables_seconds(n_pairs: int, sentences: int = 1000, seed: int = 0) -> float:
    """Seconds of the tables rule for ``n_pairs`` pairs (inputs written beforehand, not timed)."""
    from neuralloc import settings
    from neuralloc.scoring import SCORE_FIELDS
    from neuralloc.tables import make_tables

    params = settings.tables(default_config())
    systems, pairs = params["hypothesis_systems"], synthetic_pairs(n_pairs)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        refs, hyps, scores, cards = [], [], [], []
        lengths = {p: rng.integers(5, 40, sentences) for p in pairs}
        ref_ids = {p: rng.integers(0, len(WORDS), int(lengths[p].sum())) for p in pairs}
        for p in pairs:
            refs.append(root / f"ref.{p}.txt")
            refs[-1].write_text(_text(ref_ids[p], lengths[p]))
        for s, system in enumerate(systems):
            with open(root / f"{system}.csv", "w", newline="") as f:
                w = csv.DictWriter(f, SCORE_FIELDS)
                w.writeheader()
                for p in pairs:
                    # a translation: each reference word kept with probability 0.5 + 0.02 s, else another word
                    keep = rng.random(len(ref_ids[p])) < 0.5 + 0.02 * s
                    hyps.append(root / f"{system}.{p}.txt")
                    hyps[-1].write_text(_text(np.where(keep, ref_ids[p], rng.integers(0, len(WORDS), len(keep))), lengths[p]))
                    w.writerow({"system": system, "split": params["split"], "seed": 1, "pair": p, "bleu": 20 + s,
                                "chrf": 40 + s, "sentences": sentences, "bleu_signature": "tok:13a", "chrf_signature": "chrF2"})
            scores.append(str(root / f"{system}.csv"))
            cards.append(root / f"{system}.json")
            cards[-1].write_text(json.dumps({"parameters": 1000}))
        names = list(params["layout"])
        out = [[str(root / f"{name}.{ext}") for name in names] for ext in ("csv", "md", "tex", "html")]
        t0 = time.perf_counter()
        make_tables(params["layout"], pairs, params["split"], params["samples"], scores, list(map(str, hyps)), systems,
                    list(map(str, refs)), list(map(str, cards)), systems, *out)
        return time.perf_counter() - t0


def allocation_seconds(n_pairs: int, seed: int = 0) -> float:
    """Seconds of ``allocate`` for ``n_pairs`` pairs on transformer-base sites (the default method)."""
    from neuralloc.allocate import allocate
    from neuralloc.model import ModelConfig, site_widths

    method = default_config()["method"]
    widths = site_widths(ModelConfig(vocab_size=1000))
    rng = np.random.default_rng(seed)
    pairs = synthetic_pairs(n_pairs)
    importance = {p: {s: rng.random(w, dtype=np.float32) for s, w in widths.items()} for p in pairs}
    t0 = time.perf_counter()
    allocate(importance, pairs, method["rho"], method["k"], method["variant"])
    return time.perf_counter() - t0


def write_training_arrays(root: Path, n_pairs: int, sentences: int, seed: int = 0) -> list[str]:
    """Encoded arrays (``binarized`` format) of ``n_pairs`` pairs, ~30 tokens a sentence; the pairs."""
    from neuralloc.binarized import offsets_path

    rng = np.random.default_rng(seed)
    pairs = synthetic_pairs(n_pairs)
    for p in pairs:
        for side in ("src", "tgt"):
            lengths = rng.integers(10, 50, sentences)
            offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
            tokens = rng.integers(len(LANGUAGES) + 8, 8000, int(offsets[-1]), dtype=np.int32)
            path = root / f"{p}.{side}.tokens.npy"
            np.save(path, tokens)
            np.save(offsets_path(path), offsets)
    return pairs


def _memory() -> dict[str, float]:
    """This process's resident memory in MB: private (anonymous) and file-backed."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {k: int(fields[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile")}


def _data_child(root: str, n_pairs: int) -> None:
    """In a fresh process: the data's memory and batch-building speed, as JSON on stdout."""
    from neuralloc.data import bucket_of, epoch_batches
    from neuralloc.data import ParallelData
    from neuralloc.vocab import Vocabulary

    pairs = synthetic_pairs(n_pairs)
    vocab = Vocabulary.build([" ".join(f"v{i}" for i in range(8000))], [p.split("-")[1] for p in pairs])
    before = _memory()
    t0 = time.perf_counter()
    data = ParallelData(pairs, [f"{root}/{p}.src.tokens.npy" for p in pairs], [f"{root}/{p}.tgt.tokens.npy" for p in pairs],
                        vocab, 256)
    load = time.perf_counter() - t0
    after = _memory()
    batches = epoch_batches(data, 4096, seed=1, epoch=1)[:300]
    t0 = time.perf_counter()
    tokens = 0
    for items in batches:
        tokens += data.collate(items, bucket_of(max(int(data.sizes(p)[i]) for p, i in items))).target_tokens
    rate = tokens / (time.perf_counter() - t0)
    print(json.dumps({"private_mb": after["RssAnon"] - before["RssAnon"], "file_mb": after["RssFile"] - before["RssFile"],
                      "load_s": load, "collate_tokens_per_s": rate}))


def data_figures(n_pairs: int, sentences: int = 20000) -> dict[str, float]:
    """The training data of ``n_pairs`` pairs in a fresh process: private_mb, file_mb, load_s,
    collate_tokens_per_s."""
    with tempfile.TemporaryDirectory() as tmp:
        write_training_arrays(Path(tmp), n_pairs, sentences)
        proc = subprocess.run([sys.executable, __file__, "--data-child", tmp, str(n_pairs)], capture_output=True,
                              text=True, check=True)
        return json.loads(proc.stdout.splitlines()[-1])


def data_memory_mb(n_pairs: int, sentences: int = 20000) -> float:
    """Private resident memory (MB) a process gains by loading ``n_pairs`` pairs of training data."""
    return data_figures(n_pairs, sentences)["private_mb"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, nargs="+", default=[2, 21, 132, 462])
    p.add_argument("--sentences", type=int, default=1000, help="test sentences per pair (tables)")
    p.add_argument("--train-sentences", type=int, default=20000, help="training sentences per pair (data)")
    p.add_argument("--skip", nargs="*", default=[], choices=["tables", "allocation", "data"])
    p.add_argument("--data-child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.data_child:
        return _data_child(args.data_child[0], int(args.data_child[1]))
    print("| pairs | tables (s) | allocation (s) | data, private (MB) | data, file pages (MB) | data load (s) | collate (target tokens/s) |")
    print("|---|---|---|---|---|---|---|")
    for n in args.pairs:
        tables = f"{tables_seconds(n, args.sentences):.1f}" if "tables" not in args.skip else ""
        alloc = f"{allocation_seconds(n):.3f}" if "allocation" not in args.skip else ""
        d = data_figures(n, args.train_sentences) if "data" not in args.skip else None
        cells = [f"{d['private_mb']:.0f}", f"{d['file_mb']:.0f}", f"{d['load_s']:.1f}", f"{d['collate_tokens_per_s']:,.0f}"] if d else [""] * 4
        print(f"| {n} | {tables} | {alloc} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
