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
means over every position, padding included (``normalisation="batch_mean_sum"``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from .logs import progress as bar  # the name progress is the functions' flag
from .data import ParallelData, inference_batches
from .fileio import atomic_path
from .loss import label_smoothed_loss
from .model import SiteContext, Transformer
from .readings import OPTIONS
from .sites import site_tokens
from .systems import IMPORTANCE

log = logging.getLogger(__name__)


NORMALISATIONS = OPTIONS["importance_norm"]  # the paper's, the released code's


def sample_sentences(data: ParallelData, p: int, token_cap: int, seed: int) -> list[int]:
    """A seeded random sample of pair ``p``'s sentences holding at least ``token_cap`` target
    tokens (all of them if the pair has fewer)."""
    order = np.random.default_rng(seed).permutation(len(data.src[p]))
    tokens = np.cumsum([len(data.tgt[p][i]) + 1 for i in order])  # + EOS, as the loss counts them
    return order[: int(np.searchsorted(tokens, token_cap)) + 1].tolist()


def importance(model: Transformer, data: ParallelData, p: int, method: str, label_smoothing: float = 0.1,
               max_tokens: int = 4000, token_cap: int | None = None, device="cpu", progress: bool = False,
               normalisation: str = "token_mean", seed: int = 1) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """(site -> float32 importance vector, {"source": n, "target": n} real tokens seen).

    ``token_mean`` (the paper): each neuron's per-token score averaged over the real tokens of the
    side its site reads. ``batch_mean_sum`` (the released code): each batch's mean over all its
    positions, padding included, summed over batches. ``token_cap``: a seeded random sample of
    sentences with that many target tokens instead of all."""
    if method not in IMPORTANCE:
        raise ValueError(f"unknown importance method {method!r} (allowed: {', '.join(IMPORTANCE)})")
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {normalisation!r} (allowed: {', '.join(NORMALISATIONS)})")
    model.eval()
    pad = model.cfg.pad_id
    sums: dict[str, torch.Tensor] = {}
    counts = {"source": 0, "target": 0}
    chosen = sample_sentences(data, p, token_cap, seed) if token_cap is not None else None
    batches = inference_batches(data, p, max_tokens, indices=chosen)
    for items in bar(batches, desc=f"importance {method} {data.pairs[p]}", disable=not progress or None):
        host = data.collate(items)  # token counts from the host copy: no GPU read-back per batch
        for side, ids in (("source", host.src), ("target", host.prev)):
            counts[side] += int(ids.ne(pad).sum())
        b = host.to(device)
        record: dict[str, torch.Tensor] = {}
        positions = {"source": b.src.ne(pad), "target": b.prev.ne(pad)}
        with torch.set_grad_enabled(method == "te"):
            logits = model(b.src, b.prev, SiteContext(record=record))
            if method == "te":
                loss, _ = label_smoothed_loss(logits, b.target, label_smoothing, pad)
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
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in vectors.items()}, str(tmp), metadata={k: str(v) for k, v in metadata.items()})


def run_importance(checkpoint: str, vocab: str, src: str, tgt: str, pair: str, method: str, out: str,
                   label_smoothing: float, token_cap: int | None, normalisation: str = "token_mean",
                   seed: int | None = None, threads: int = 1) -> None:
    """Entry point of the importance rule: ``src`` and ``tgt`` are the pair's encoded arrays (its
    training or its dev data, as the reading says)."""
    from .checkpoint import load_for_inference
    from .fileio import sha256sum

    model, vocabulary, device = load_for_inference(checkpoint, vocab, threads)
    data = ParallelData([pair], [src], [tgt], vocabulary, model.cfg.max_positions)
    vectors, counts = importance(model, data, 0, method, label_smoothing, token_cap=token_cap, device=device,
                                 progress=True, normalisation=normalisation, seed=seed or 1)
    meta = {"pair": pair, "method": method, "normalisation": normalisation, "label_smoothing": label_smoothing,
            "source_tokens": counts["source"], "target_tokens": counts["target"], "checkpoint_sha256": sha256sum(checkpoint)}
    save_importance(out, vectors, meta)
    log.info("%s %s: %d sites, %d source and %d target tokens", pair, method, len(vectors), counts["source"], counts["target"])
