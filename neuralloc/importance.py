"""Neuron importance of one language pair (Section 3.1, Eq. 6-8).

For every neuron i of every site and every token t of the pair's training data (every non-pad
position of the side the site belongs to: source positions for encoder sites, decoder-input
positions for decoder sites):

- Taylor expansion (TE): |h_i(t) * dL/dh_i(t)|, L the training loss (label-smoothed
  cross-entropy summed over the batch), the model in eval mode;
- absolute value (AV): |h_i(t)|;

(cross-attention keys and values are computed at source positions, so they average over those)

averaged over the tokens. Per token first, then the mean, as the authors' code does.

The authors' released code differs (``readings.py``, docs/method.md): it differentiates plain
cross-entropy (``label_smoothing`` 0), reads the dev set (the rule's input), and sums per-batch
means over every position, padding included (``normalisation="batch_mean_sum"``), which makes the
batches part of the result: it takes the pair's part of fairseq 0.9's batches of every pair's data
zipped round robin (``batches="fairseq"``, ``data.round_robin_batches``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import numpy as np
import torch

from .logs import progress as bar  # the name progress is the functions' flag
from .data import FAIRSEQ_MAX_TOKENS, ParallelData, inference_batches, round_robin_batches
from .fileio import write_safetensors
from .loss import label_smoothed_loss
from .model import SiteContext, Transformer
from .readings import OPTIONS
from .sites import site_tokens
from .systems import IMPORTANCE

log = logging.getLogger(__name__)


NORMALISATIONS = OPTIONS["importance_norm"]  # the paper's, the released code's
BATCHINGS = OPTIONS["importance_batches"]
BY_LENGTH_MAX_TOKENS = 4000


def sample_sentences(data: ParallelData, p: int, token_cap: int, seed: int) -> list[int]:
    """A seeded random sample of pair ``p``'s sentences holding at least ``token_cap`` target
    tokens (all of them if the pair has fewer)."""
    order = np.random.default_rng(seed).permutation(len(data.src[p]))
    tokens = np.cumsum(data.tgt[p].lengths[order] + 1)  # + EOS, as the loss counts them
    return order[: int(np.searchsorted(tokens, token_cap)) + 1].tolist()


def importance_batches(data: ParallelData, p: int, batches: str = "by_length", max_tokens: int | None = None,
                       token_cap: int | None = None, seed: int = 1) -> list[list[tuple[int, int]]]:
    """The batches importance reads for pair ``p``, as lists of (pair, index). "by_length": the pair's
    sentences alone, longest source first, up to ``max_tokens`` (default 4000) padded source tokens;
    "fairseq": the pair's part of each of fairseq 0.9's round-robin batches over every pair of
    ``data`` (``max_tokens`` default 2048; ``data.round_robin_batches``). ``token_cap``: each pair
    reduced to a seeded sample of its sentences holding that many target tokens."""
    if batches not in BATCHINGS:
        raise ValueError(f"unknown batches {batches!r} (allowed: {', '.join(BATCHINGS)})")
    if batches == "by_length":
        chosen = sample_sentences(data, p, token_cap, seed) if token_cap is not None else None
        return inference_batches(data, p, max_tokens or BY_LENGTH_MAX_TOKENS, indices=chosen)
    chosen = [sample_sentences(data, q, token_cap, seed) for q in range(len(data.pairs))] if token_cap is not None else None
    zipped = round_robin_batches(data, max_tokens or FAIRSEQ_MAX_TOKENS, indices=chosen)
    return [[(q, i) for q, i in batch if q == p] for batch in zipped]


def importance(model: Transformer, data: ParallelData, p: int, method: str, label_smoothing: float = 0.1,
               max_tokens: int | None = None, token_cap: int | None = None, device="cpu", progress: bool = False,
               normalisation: str = "token_mean", seed: int = 1,
               batches: str = "by_length") -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """(site -> float32 importance vector, {"source": n, "target": n} real tokens seen).

    ``token_mean`` (the paper): each neuron's per-token score averaged over the real tokens of the
    side its site reads. ``batch_mean_sum`` (the released code): each batch's mean over all its
    positions, padding included, summed over batches. ``batches``, ``max_tokens``, ``token_cap``
    (a seeded random sample of sentences with that many target tokens instead of all): as
    ``importance_batches`` says."""
    if method not in IMPORTANCE:
        raise ValueError(f"unknown importance method {method!r} (allowed: {', '.join(IMPORTANCE)})")
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {normalisation!r} (allowed: {', '.join(NORMALISATIONS)})")
    model.eval()
    pad = model.cfg.pad_id
    sums: dict[str, torch.Tensor] = {}
    counts = {"source": 0, "target": 0}
    for items in bar(importance_batches(data, p, batches, max_tokens, token_cap, seed),
                     desc=f"importance {method} {data.pairs[p]}", disable=not progress or None):
        host = data.collate(items)  # token counts from the host copy: no GPU read-back per batch
        for side, ids in (("source", host.src), ("target", host.prev)):
            counts[side] += int(ids.ne(pad).sum())
        b = host.to(device)
        record: dict[str, torch.Tensor] = {}
        positions = {"source": b.src.ne(pad), "target": b.prev.ne(pad)}
        with torch.set_grad_enabled(method == "te"):
            logits = model(b.src, b.prev, SiteContext(record=record))
            if method == "te":
                loss = label_smoothed_loss(logits, b.target, label_smoothing, pad)
                names = list(record)
                grads = torch.autograd.grad(loss, [record[n] for n in names])
                scores = {n: (record[n] * g).abs() for n, g in zip(names, grads)}
            else:
                scores = {n: h.abs() for n, h in record.items()}
        for name, s in scores.items():
            if normalisation == "token_mean":
                keep = positions[site_tokens(name)].unsqueeze(-1).to(s.dtype)
                total = (s.float() * keep).sum(dim=(0, 1)).detach()
            else:
                total = s.float().mean(dim=(0, 1)).detach()
            sums[name] = total if name not in sums else sums[name] + total
    if normalisation == "batch_mean_sum":
        return {name: s.cpu().float() for name, s in sums.items()}, counts
    out = {name: (s / max(counts[site_tokens(name)], 1)).cpu().float() for name, s in sums.items()}
    return out, counts


def save_importance(path: str | Path, vectors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """The importance vectors, with the same bytes at every write of the same vectors and metadata."""
    write_safetensors(path, {k: v.detach().cpu().numpy() for k, v in vectors.items()}, metadata)


@contextlib.contextmanager
def deterministic_mode(enabled: bool = True):
    """Deterministic kernels while the block runs: PyTorch's deterministic algorithms (the
    embedding's backward without atomics...), the math attention kernel, and the fixed cuBLAS
    workspace they need (set before cuBLAS starts: enter this before the model reaches the GPU)."""
    if not enabled:
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.use_deterministic_algorithms(previous)


def run_importance(checkpoint: str, vocab: str, src: list[str], tgt: list[str], pairs: list[str], method: str,
                   out: list[str], label_smoothing: float, token_cap: int | None, normalisation: str = "token_mean",
                   batches: str = "by_length", seed: int | None = None, threads: int = 1,
                   deterministic: bool = True) -> None:
    """Entry point of the importance rule: the importance of every pair of ``pairs``, written to
    ``out`` (one file per pair, in that order), the model loaded once. ``src`` and ``tgt`` are the
    encoded arrays of ``pairs`` (training or dev data, as the reading says); a pair's importance
    reads its own sentences, or every pair's where the batches zip them. ``deterministic``: the
    same bits at every run on a GPU too (``deterministic_mode``)."""
    from .checkpoint import load_for_inference

    if len(out) != len(pairs):
        raise ValueError(f"{len(pairs)} pairs but {len(out)} output files")
    with deterministic_mode(deterministic):
        model, vocabulary, device, record = load_for_inference(checkpoint, vocab, threads)
        data = ParallelData(pairs, list(src), list(tgt), vocabulary, model.cfg.max_positions)
        for p, (pair, path) in enumerate(zip(pairs, out)):
            vectors, counts = importance(model, data, p, method, label_smoothing, token_cap=token_cap, device=device,
                                         progress=True, normalisation=normalisation, seed=seed or 1, batches=batches)
            meta = {"pair": pair, "method": method, "normalisation": normalisation, "batches": batches,
                    "label_smoothing": label_smoothing, "source_tokens": counts["source"],
                    "target_tokens": counts["target"],
                    "model_digest": record["model_digest"]}  # the model's identity, which masks carry to their users
            save_importance(path, vectors, meta)
            log.info("%s %s: %d sites, %d source and %d target tokens", pair, method, len(vectors), counts["source"],
                     counts["target"])
