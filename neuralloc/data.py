"""Training examples and batches from the encoded arrays.

An example of pair p: source ``<2tgt> x_1 .. x_n </s>``, decoder input ``<s> y_1 .. y_m`` and
output ``y_1 .. y_m </s>``, and the pair's index, which the method's masks use. Batches are
token-based and length-bucketed: both sides are padded to one of a few bucket lengths and each
bucket has a fixed number of rows, so a GPU sees a small set of shapes (new shapes cost
attention-kernel selection, see docs). Pairs are mixed within a batch by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import layout
from .binarized import IndexedText
from .fileio import DataError
from .languages import Pair
from .vocab import Vocabulary

# The largest bucket bounds model.max_positions (the schema's maximum; tested).
DEFAULT_BUCKETS = (8, 12, 16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 448, 512, 640, 768, 896, 1024)


@dataclass
class Batch:
    src: Tensor        # (B, S) source ids, padded
    prev: Tensor       # (B, T) decoder inputs
    target: Tensor     # (B, T) gold outputs, pad where there is none
    pair: Tensor       # (B,) pair index of each example
    index: Tensor      # (B,) example index within its pair (order of the input file)

    @property
    def target_tokens(self) -> int:
        return int(self.target.ne(0).sum()) if self.target.numel() else 0

    def to(self, device) -> "Batch":
        """The batch on ``device``; to a GPU through pinned memory, so the copy does not wait."""
        pin = torch.device(device).type == "cuda"
        return Batch(*((t.pin_memory() if pin else t).to(device, non_blocking=True)
                       for t in (self.src, self.prev, self.target, self.pair, self.index)))


class Sentences:
    """One pair's sentences on one side as the model reads them, ``prefix + sentence[:limit] +
    suffix``, built from the memory-mapped arrays when asked: only the lengths are in memory, so
    every process (and DDP rank) shares the page cache's one copy of the data."""

    def __init__(self, text: IndexedText, limit: int, prefix: tuple[int, ...] = (), suffix: tuple[int, ...] = ()):
        self.tokens, self.offsets = text.tokens, text.offsets
        self.prefix, self.suffix = np.asarray(prefix, dtype=np.int64), np.asarray(suffix, dtype=np.int64)
        self.lengths = np.minimum(text.lengths, limit) + len(prefix) + len(suffix)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.offsets[i])
        body = self.tokens[start:start + int(self.lengths[i]) - len(self.prefix) - len(self.suffix)]
        return np.concatenate((self.prefix, body, self.suffix)) if len(self.prefix) + len(self.suffix) else np.array(body)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class ParallelData:
    """All pairs of one split, examples addressed by (pair, index). ``src`` and ``tgt`` are the
    pairs' encoded arrays (``.tokens.npy`` files), in the order of ``pairs``; ``tgt`` None reads
    sources only (translation). Held as memory maps (``Sentences``), not copies: 132 pairs of
    training data are gigabytes as Python arrays per process."""

    def __init__(self, pairs: list[str], src: list[str | Path], tgt: list[str | Path] | None, vocab: Vocabulary,
                 max_positions: int):
        self.pairs, self.vocab = list(pairs), vocab
        if len(src) != len(self.pairs) or (tgt is not None and len(tgt) != len(self.pairs)):
            raise ValueError(f"{len(self.pairs)} pairs but {len(src)} source and {len(tgt or [])} target arrays")
        self.src: list[Sentences] = []
        self.tgt: list[Sentences] = []
        for p, name in enumerate(self.pairs):
            s = IndexedText(src[p])
            check_array(s, src[p], name, len(vocab))
            self.src.append(Sentences(s, max_positions - 2, (vocab.tag(Pair.parse(name).tgt),), (vocab.eos,)))
            if tgt is not None:
                t = IndexedText(tgt[p])
                check_array(t, tgt[p], name, len(vocab))
                if len(t) != len(s):
                    raise ValueError(f"{name}: {len(s)} source sentences in {src[p]} but {len(t)} target ones in {tgt[p]}")
                self.tgt.append(Sentences(t, max_positions - 1))
        # the longer of source and decoder input
        self._sizes = [np.maximum(s.lengths, t.lengths + 1) if self.tgt else s.lengths
                       for s, t in zip(self.src, self.tgt or self.src)]

    @classmethod
    def from_experiment(cls, exp: str | Path, split: str, pairs: list[str], vocab: Vocabulary, max_positions: int,
                        with_target: bool = True) -> "ParallelData":
        """One split of an experiment directory (for tools and tests outside the workflow)."""
        src = [layout.encoded(str(exp), split, p, "src") for p in pairs]
        tgt = [layout.encoded(str(exp), split, p, "tgt") for p in pairs] if with_target else None
        return cls(pairs, src, tgt, vocab, max_positions)

    def __len__(self) -> int:
        return sum(len(s) for s in self.src)

    def sizes(self, p: int) -> np.ndarray:
        """Length that decides the bucket: the longer of source and decoder input."""
        return self._sizes[p]

    def target_tokens(self, items: list[tuple[int, int]]) -> int:
        """The target tokens (EOS included) of the examples ``items``, from the arrays' lengths."""
        return sum(int(self.tgt[p].lengths[i]) + 1 for p, i in items)

    def collate(self, items: list[tuple[int, int]], length: int | None = None) -> Batch:
        """Pad the examples ``(pair, index)`` to ``length`` (or their own maximum)."""
        pad, bos, eos = self.vocab.pad, self.vocab.bos, self.vocab.eos
        srcs = [self.src[p][i] for p, i in items]
        src = np.full((len(items), length or max(len(s) for s in srcs)), pad, dtype=np.int64)
        for r, s in enumerate(srcs):
            src[r, : len(s)] = s
        if self.tgt:
            tgts = [self.tgt[p][i] for p, i in items]
            t_len = length or max(len(t) + 1 for t in tgts)
            prev = np.full((len(items), t_len), pad, dtype=np.int64)
            target = np.full((len(items), t_len), pad, dtype=np.int64)
            for r, t in enumerate(tgts):
                prev[r, 0], prev[r, 1: len(t) + 1] = bos, t
                target[r, : len(t)], target[r, len(t)] = t, eos
            prev, target = torch.from_numpy(prev), torch.from_numpy(target)
        else:
            prev = target = torch.empty(len(items), 0, dtype=torch.long)
        pair = torch.tensor([p for p, _ in items], dtype=torch.long)
        index = torch.tensor([i for _, i in items], dtype=torch.long)
        return Batch(torch.from_numpy(src), prev, target, pair, index)


def check_array(text: IndexedText, path, pair: str, vocab_size: int) -> None:
    """An encoded array the model can read: some sentences (an empty dev set gives no dev loss, an
    empty test set no score), and every id inside the vocabulary."""
    if len(text) == 0:
        raise DataError(f"{path}: no sentences for pair {pair}: an empty split cannot be trained, validated or "
                        "scored; check the raw text it was encoded from and rebuild it")
    tokens = text.tokens
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= vocab_size):  # reductions: no copy of the map
        bad = np.flatnonzero((tokens < 0) | (tokens >= vocab_size))
        sentence = int(np.searchsorted(text.offsets, bad[0], side="right")) - 1
        raise DataError(f"{path}: sentence {sentence + 1} of pair {pair} holds token id {int(tokens[bad[0]])}, outside "
                        f"the vocabulary's {vocab_size} entries: the arrays and dict.txt come from different runs; "
                        "rebuild the arrays (snakemake --forcerun encode)")


def pair_ids(items: list[tuple[int, int]]) -> np.ndarray:
    """The pair id of each example of a batch, on the host: what a SiteContext is made from."""
    return np.fromiter((p for p, _ in items), dtype=np.int64, count=len(items))


def bucket_of(size, buckets=DEFAULT_BUCKETS):
    """The smallest bucket length that holds ``size`` (an int or an array of them)."""
    idx = np.searchsorted(buckets, size, side="left")
    if np.any(idx >= len(buckets)):
        raise ValueError(f"an example of {np.max(size)} tokens is longer than the largest bucket {buckets[-1]}")
    return np.asarray(buckets)[idx] if np.ndim(idx) else int(buckets[idx])


def pair_weights(counts: list[int], sampling: str, temperature: float) -> np.ndarray:
    """Share of each pair in an epoch: proportional to its data, or to (n_p / N) ** (1 / T)."""
    n = np.asarray(counts, dtype=np.float64)
    if sampling == "proportional":
        return n / n.sum()
    q = (n / n.sum()) ** (1.0 / temperature)
    return q / q.sum()


def epoch_batches(data: ParallelData, max_tokens: int, seed: int, epoch: int, mixed: bool = True,
                  sampling: str = "proportional", temperature: float = 1.0,
                  buckets=DEFAULT_BUCKETS) -> list[list[tuple[int, int]]]:
    """The batches of one epoch as lists of (pair, index); a pure function of (seed, epoch).

    Each bucket length L holds max_tokens // L rows. With ``mixed`` a batch draws from every
    pair, in shuffled order. Otherwise each batch holds one pair and the pairs take turns
    (round robin over each pair's shuffled batches), so accumulating one micro-batch per pair
    (``update_freq`` = number of pairs) gives every update every pair, as fairseq's multilingual
    task did.
    """
    rng = np.random.default_rng([seed, epoch])
    counts = [len(s) for s in data.src]
    total = sum(counts)
    shares = pair_weights(counts, sampling, temperature)
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for p, n in enumerate(counts):
        want = int(round(shares[p] * total))
        idx = rng.permutation(n)
        if want > n:
            idx = np.concatenate([idx, rng.integers(0, n, want - n)])
        idx = idx[:want]
        lengths = bucket_of(data.sizes(p)[idx], buckets)
        for i, L in zip(idx.tolist(), lengths.tolist()):
            groups.setdefault((L,) if mixed else (L, p), []).append((p, i))
    batches = []
    for key in sorted(groups):
        items = groups[key]
        order = rng.permutation(len(items))
        rows = max(1, max_tokens // key[0])
        for start in range(0, len(items), rows):
            batches.append([items[j] for j in order[start:start + rows]])
    batches = [batches[j] for j in rng.permutation(len(batches))]
    if mixed:
        return batches
    per_pair = [[b for b in batches if b[0][0] == p] for p in range(len(counts))]
    return [q[i] for i in range(max(map(len, per_pair))) for q in per_pair if i < len(q)]


def inference_batches(data: ParallelData, p: int, max_tokens: int, limit: int | None = None,
                      indices=None) -> list[list[tuple[int, int]]]:
    """Batches of one pair's first ``limit`` sentences (all by default), or of the sentences
    ``indices``, for decoding, sorted by source length (restore order with ``index``)."""
    chosen = np.arange(len(data.src[p].lengths[:limit])) if indices is None else np.asarray(indices, dtype=np.int64)
    lengths = data.src[p].lengths[chosen]
    by_length = np.argsort(-lengths, kind="stable")
    batches, cur, cur_max = [], [], 0
    for i, size in zip(chosen[by_length].tolist(), lengths[by_length].tolist()):
        new_max = max(cur_max, size)
        if cur and new_max * (len(cur) + 1) > max_tokens:
            batches.append(cur)
            cur, new_max = [], size
        cur.append((p, i))
        cur_max = new_max
    if cur:
        batches.append(cur)
    return batches


# fairseq 0.9 as the released code's importance.py batches its data: importanceModel.sh sets
# --max-tokens 2048 and leaves --seed (1) and --required-batch-size-multiple (8) at their defaults.
FAIRSEQ_MAX_TOKENS, FAIRSEQ_SEED, FAIRSEQ_MULTIPLE = 2048, 1, 8


def fairseq_sizes(data: ParallelData, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The sizes fairseq gives pair ``p``'s sentences: ``x </s>`` and ``y </s>``, |x| + 1 and |y| + 1
    (its encoder input ``x __tgt__`` has that length; ours, ``<2tgt> x </s>``, is one longer)."""
    return data.src[p].lengths - 1, data.tgt[p].lengths + 1


def round_robin_batches(data: ParallelData, max_tokens: int = FAIRSEQ_MAX_TOKENS, seed: int = FAIRSEQ_SEED,
                        multiple: int = FAIRSEQ_MULTIPLE, indices=None) -> list[list[tuple[int, int]]]:
    """The batches fairseq 0.9 makes of a multilingual task's split, as the released code's
    importance.py iterates them (docs/method.md), each a list of (pair, index) of every pair.

    Each pair's sentences get an order of their own: a random permutation (one NumPy stream seeded
    with ``seed``, drawn pair after pair in the order of ``data.pairs``), stably sorted by target
    size and then by source size. Row j of the zipped data holds the j-th sentence of every pair, a
    smaller pair starting over from its first, as many rows as the largest pair has sentences; a
    row's size is the largest of its sentences' sizes (``fairseq_sizes``). Rows are taken in order
    until (rows + 1) × the largest size would exceed ``max_tokens``; the batch then keeps a multiple
    of ``multiple`` rows (all of them if fewer) and the rest start the next. ``indices``: per pair,
    the sentences taking part (default all)."""
    rng = np.random.RandomState(seed)  # the legacy generator fairseq seeds (np.random.seed)
    orders, sizes = [], []
    for p, name in enumerate(data.pairs):
        chosen = np.arange(len(data.src[p])) if indices is None else np.asarray(indices[p], dtype=np.int64)
        if not len(chosen):
            raise ValueError(f"{name} has no sentences to batch")
        src, tgt = fairseq_sizes(data, p)
        order = chosen[rng.permutation(len(chosen))]
        order = order[np.argsort(tgt[order], kind="stable")]
        orders.append(order[np.argsort(src[order], kind="stable")])
        sizes.append(np.maximum(src, tgt))
    n_rows = max(len(o) for o in orders)
    rows = [o[np.arange(n_rows) % len(o)] for o in orders]  # pair -> its sentence in each row
    row_size = np.max([s[r] for s, r in zip(sizes, rows)], axis=0)
    if row_size.max() > max_tokens:
        raise ValueError(f"a sentence of {row_size.max()} tokens exceeds the batch size of {max_tokens} tokens")
    cuts, current, longest = [], [], 0
    for j, size in enumerate(row_size.tolist()):
        longest = max(longest, size)
        if current and (len(current) + 1) * longest > max_tokens:
            keep = len(current) if len(current) < multiple else len(current) // multiple * multiple
            cuts.append(current[:keep])
            current = current[keep:]
            longest = max([int(row_size[r]) for r in current] + [size])
        current.append(j)
    if current:
        cuts.append(current)
    return [[(p, int(rows[p][j])) for p in range(len(rows)) for j in cut] for cut in cuts]
